"""How tollway talks to a Triton replica: one request body in, one answer out, encoded with
tritonclient's KServe v2 (OIP) binary tensors and sent over the orchestrator's own HTTP client.

Every Triton model tollway serves takes one BYTES input, `body`, and gives four outputs: `body`,
`status` (the HTTP status to answer), `error` (a message when status is not 200) and
`content_type`. `triton_host` builds such a model around a model file's `infer` function.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

__all__ = ["BODY", "CONTENT_TYPE", "ERROR", "STATUS", "infer"]

BODY = "body"
STATUS = "status"
ERROR = "error"
CONTENT_TYPE = "content_type"
OUTPUTS = (BODY, STATUS, ERROR, CONTENT_TYPE)
HEADER_LENGTH = "Inference-Header-Content-Length"


def _error(status: int, kind: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": kind, "message": message}})


async def infer(
    http: httpx.AsyncClient, url: str, model: str, body: bytes, timeout: float
) -> httpx.Response:
    """Run `body` through `model` on the Triton server at `url`, answered as the model said.

    Transport errors (httpx.TransportError, httpx.TimeoutException) propagate, so the caller
    fails over exactly as it does for a container replica.
    """
    tensor = triton_http.InferInput(BODY, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[body]], dtype=np.object_), binary_data=True)
    wanted = [triton_http.InferRequestedOutput(name, binary_data=True) for name in OUTPUTS]
    request, json_size = triton_http.InferenceServerClient.generate_request_body(
        [tensor], outputs=wanted
    )
    headers = {"Content-Type": "application/octet-stream"}
    if json_size is not None:
        headers[HEADER_LENGTH] = str(json_size)
    answer = await http.post(
        f"{url.rstrip('/')}/v2/models/{model}/infer",
        content=request,
        headers=headers,
        timeout=timeout,
    )
    if answer.status_code != 200:
        reason = f"Triton answered {answer.status_code}: {_reason(answer)}"
        return _error(502, "TritonError", reason)
    header_length = answer.headers.get(HEADER_LENGTH)
    try:
        result = triton_http.InferenceServerClient.parse_response_body(
            answer.content, header_length=int(header_length) if header_length else None
        )
        status = int(result.as_numpy(STATUS).item())
        error = bytes(result.as_numpy(ERROR).item()).decode(errors="replace")
        content_type = bytes(result.as_numpy(CONTENT_TYPE).item()).decode(errors="replace")
        out = bytes(result.as_numpy(BODY).item())
    except (InferenceServerException, ValueError, AttributeError, TypeError) as exc:
        return _error(502, "TritonError", f"Triton's answer does not follow tollway's model: {exc}")
    if status != 200:
        return _error(status, "ModelError" if status >= 500 else "BadInput", error)
    return httpx.Response(200, content=out, headers={"Content-Type": content_type})


def _reason(answer: httpx.Response) -> str:
    try:
        return str(json.loads(answer.content)["error"])
    except (ValueError, KeyError, TypeError):
        return answer.text[:200]
