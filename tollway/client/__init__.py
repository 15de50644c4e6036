"""`tollway.client`: the gateway's jobs API from Python, sync (`Client`) and async
(`AsyncClient`), typed with the API's own models. An error answer is raised as the same class of
`tollway.errors` the gateway raised (`BudgetExceeded`, `RateLimited`, `NotFound`...), its
problem document in `.details`, so callers decide by type.

    with Client("http://127.0.0.1:9935", api_key) as tollway:
        job = tollway.submit("echo", {"hello": "world"}, wait=30).job
        print(tollway.output(job.job_id))

A webhook receiver checks each delivery with `verify_webhook(secret, body, headers)`.
"""

from tollway.client._async import AsyncClient
from tollway.client._shared import verify_webhook
from tollway.client._sync import Client

__all__ = ["AsyncClient", "Client", "verify_webhook"]
