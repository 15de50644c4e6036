"""tollway's exception tree, mapped in one place to HTTP statuses and Temporal errors.

    TollwayError                      (500, retryable)
    ├── InternalError                 (500) a fault of tollway's own, never the client's
    ├── BadRequest                    (400)
    │   ├── BadJobHeader              malformed or missing `Livepeer` header / field
    │   ├── BadSignature              job or address signature does not recover
    │   ├── BadPayment                `Livepeer-Payment` undecodable or a ticket refused
    │   ├── InsufficientCredit        paid credit below the orchestrator's minimum
    │   ├── UnacceptableTicketParams  an orchestrator's params break the gateway's limits
    │   ├── TicketParamsExpired       the params expired before the payment arrived: fresh token
    │   ├── RegistrationRefused       the orchestrator refused a replica's (un)registration
    │   ├── DeclarationError          a capability declaration file that cannot be served
    │   │   └── PlacementError        a declared replica fits on no GPU worker
    │   ├── WebhookTargetRefused      a webhook URL not http(s), or private and not allowed
    │   ├── BodyTooLarge              (413)
    │   ├── BodyIncomplete            the client hung up before its body arrived
    │   └── RequestTimeout            (408) the body did not arrive in time
    ├── Unauthorized                  (401) wrong orchestrator secret; bad, revoked or expired key
    ├── Forbidden                     (403) the API key lacks the scope or capability
    ├── NotFound                      (404) unknown job
    ├── MethodNotAllowed              (405) the route exists, not with this method
    ├── Conflict                      (409) the name is taken; the job is still running
    ├── JobCanceled                   (409) its gateway canceled the job while it ran
    ├── OutputExpired                 (410) the job's output was removed (expired or deleted)
    ├── IdempotencyKeyReused          (422) an idempotency key sent again with another body
    ├── RateLimited                   (429) the key passed a quota; `Retry-After` says when
    ├── RoundPassed                   (409) the round moved on before its reward() call
    ├── StreamStopped                 (409) the live stream was stopped already
    ├── PaymentRequired               (402) too little credit to start a live stream
    ├── BudgetExceeded                (402) the job's worst case would pass a spend limit
    ├── UnknownCapability             (503) no such capability registered here
    ├── CapacityExhausted             (503) every slot of the capability is busy
    ├── InsufficientSenderReserve     (503) sender's deposit/reserve cannot back tickets
    ├── NoOrchestrator                (503) discovery found nobody able to serve the job
    ├── NoGpuWorker                   (503) no GPU worker has reported yet (retried)
    ├── AllOrchestratorsFailed        (502) every candidate failed; lists each attempt
    ├── DeadlinePassed                (504) the job's deadline passed first; lists each attempt
    ├── OrchestratorFailed            (502) one orchestrator answered 5xx: try the next one
    │   ├── OrchestratorUnreachable   nothing answered (transport error): transient
    │   └── OrchestratorBusy          (503) it answered "not now" (capacity, chain): transient
    ├── DiscoveryFailed               (500) the gateway could not read its market view
    ├── ConfigurationError            (500) a setting tollway cannot use (a database URL)
    ├── JobStillRunning               (504) a synchronous request outlived its wait
    ├── WorkerFailed                  (502) the BYOC container failed or timed out
    │   └── ContainerSetupFailed      bad image or spec; retrying cannot help
    ├── ParamsNotExpired              (503) winning tickets must wait (params, funds): retried
    └── ChainError                    (503) the chain refused or could not be reached
        ├── ChainFault                a redemption's chain call failed: retried
        ├── RecipientNotActive        not an active orchestrator this round: retried later
        └── RoundNotReady             the round has no block hash yet: no ticket params

A `transient` class names a condition that passes (an orchestrator restarting, the chain away,
every slot busy): a job that met only such errors waits and asks again until its deadline.

Every error answers HTTP as RFC 9457 problem details (`application/problem+json`, `problem()`):
`type` (`urn:tollway:problem:<kebab-name>`), `title`, `status`, `detail` (the message), `code`
(the class name) and the error's details beside them (`field` names the field at fault); the API
adds `instance` and `request_id`. `to_application_error`
turns one into a Temporal `ApplicationError` whose type is the class name, non-retryable unless
the class is retryable, with the class's retry delay; `ERROR_TYPES` maps each type back to its
class (derived from the tree), so a workflow decides by `error_type(...)`, never by text.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from temporalio.exceptions import ApplicationError

__all__ = [
    "ERROR_TYPES",
    "AllOrchestratorsFailed",
    "BadJobHeader",
    "BadPayment",
    "BadRequest",
    "BadSignature",
    "BodyTooLarge",
    "BudgetExceeded",
    "CapacityExhausted",
    "ChainError",
    "ChainFault",
    "ConfigurationError",
    "Conflict",
    "ContainerSetupFailed",
    "DeadlinePassed",
    "DeclarationError",
    "DiscoveryFailed",
    "Forbidden",
    "IdempotencyKeyReused",
    "InsufficientCredit",
    "InsufficientSenderReserve",
    "InternalError",
    "JobCanceled",
    "JobStillRunning",
    "MethodNotAllowed",
    "NoGpuWorker",
    "NoOrchestrator",
    "NotFound",
    "OrchestratorBusy",
    "OrchestratorFailed",
    "OrchestratorUnreachable",
    "OutputExpired",
    "ParamsNotExpired",
    "PaymentRequired",
    "PlacementError",
    "RateLimited",
    "RecipientNotActive",
    "RegistrationRefused",
    "RoundPassed",
    "StreamStopped",
    "TicketParamsExpired",
    "TollwayError",
    "UnacceptableTicketParams",
    "Unauthorized",
    "UnknownCapability",
    "WebhookTargetRefused",
    "WorkerFailed",
    "error_type",
    "to_application_error",
]


class TollwayError(Exception):
    status_code: ClassVar[int] = 500
    retryable: ClassVar[bool] = True
    retry_after: ClassVar[timedelta | None] = None
    """When Temporal retries an activity that raised this: after this long, not its back-off."""
    benign: ClassVar[bool] = False
    """An expected wait, not a fault: the worker logs its retries at DEBUG, without a traceback."""
    transient: ClassVar[bool] = False
    """The same request may succeed in a while: a job that met this asks again later."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}
        """HTTP headers its answer carries (`Retry-After` on a 429)."""

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document of this error (without `instance`)."""
        code = type(self).__name__
        return {
            **self.details,
            "type": f"urn:tollway:problem:{_kebab(code)}",
            "title": _kebab(code).replace("-", " ").capitalize(),
            "status": self.status_code,
            "detail": self.message,
            "code": code,
        }


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


class InternalError(TollwayError):
    pass


class BadRequest(TollwayError):
    status_code = 400
    retryable = False

    @classmethod
    def from_validation(cls, errors: list[Any]) -> BadRequest:
        """A client body that failed pydantic validation, naming each bad field."""
        fields = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in errors
            if isinstance(e, dict)
        ]
        names = ", ".join(f["field"] for f in fields if f["field"]) or "body"
        first = next((f["field"] for f in fields if f["field"]), "body")
        return cls(f"invalid fields: {names}", field=first, errors=fields)


class BadJobHeader(BadRequest):
    pass


class BadSignature(BadRequest):
    pass


class BadPayment(BadRequest):
    pass


class InsufficientCredit(BadRequest):
    pass


class UnacceptableTicketParams(BadRequest):
    pass


class DeclarationError(BadRequest):
    pass


class PlacementError(DeclarationError):
    pass


class WebhookTargetRefused(BadRequest):
    pass


class BodyTooLarge(BadRequest):
    status_code = 413


class BodyIncomplete(BadRequest):
    pass


class RequestTimeout(BadRequest):
    status_code = 408


class Unauthorized(TollwayError):
    status_code = 401
    retryable = False


class Forbidden(TollwayError):
    status_code = 403
    retryable = False


class NotFound(TollwayError):
    status_code = 404
    retryable = False


class MethodNotAllowed(TollwayError):
    status_code = 405
    retryable = False


class Conflict(TollwayError):
    status_code = 409
    retryable = False


class JobCanceled(TollwayError):
    status_code = 409
    retryable = False


class OutputExpired(TollwayError):
    status_code = 410
    retryable = False


class RateLimited(TollwayError):
    status_code = 429
    retryable = False

    def __init__(self, message: str, headers: dict[str, str] | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.headers = headers or {}


class IdempotencyKeyReused(TollwayError):
    status_code = 422
    retryable = False


class UnknownCapability(TollwayError):
    status_code = 503
    retryable = False


class CapacityExhausted(TollwayError):
    status_code = 503
    transient = True


class InsufficientSenderReserve(TollwayError):
    status_code = 503
    retryable = False


class NoOrchestrator(TollwayError):
    status_code = 503
    retryable = False


class AllOrchestratorsFailed(TollwayError):
    status_code = 502
    retryable = False


class DeadlinePassed(TollwayError):
    status_code = 504
    retryable = False


class DiscoveryFailed(TollwayError):
    retryable = False


class ConfigurationError(TollwayError):
    retryable = False


class JobStillRunning(TollwayError):
    status_code = 504
    retryable = False


class WorkerFailed(TollwayError):
    status_code = 502


class ContainerSetupFailed(WorkerFailed):
    retryable = False


class ChainError(TollwayError):
    status_code = 503
    transient = True


class TicketParamsExpired(BadRequest):
    pass


class RegistrationRefused(BadRequest):
    pass


class RoundPassed(TollwayError):
    status_code = 409
    retryable = False


class StreamStopped(TollwayError):
    status_code = 409
    retryable = False


class PaymentRequired(TollwayError):
    status_code = 402
    retryable = False


class BudgetExceeded(TollwayError):
    status_code = 402
    retryable = False


class NoGpuWorker(TollwayError):
    status_code = 503
    transient = True


class OrchestratorFailed(TollwayError):
    status_code = 502
    retryable = False  # for the dispatch activity: the job fails over to the next orchestrator


class OrchestratorUnreachable(OrchestratorFailed):
    transient = True


class OrchestratorBusy(OrchestratorFailed):
    status_code = 503
    transient = True


class ParamsNotExpired(TollwayError):
    status_code = 503
    retry_after = timedelta(seconds=1)
    benign = True


class ChainFault(ChainError):
    pass


class RecipientNotActive(ChainError):
    retry_after = timedelta(seconds=30)
    benign = True


class RoundNotReady(ChainError):
    pass


def _tree(root: type[TollwayError]) -> list[type[TollwayError]]:
    return [root, *(cls for sub in root.__subclasses__() for cls in _tree(sub))]


ERROR_TYPES: dict[str, type[TollwayError]] = {cls.__name__: cls for cls in _tree(TollwayError)}
"""Every error type by the name it carries across Temporal and HTTP."""


def error_type(type_name: str | None) -> type[TollwayError]:
    """The class of a Temporal error's `type` (TollwayError for a type not of this tree)."""
    return ERROR_TYPES.get(type_name or "", TollwayError)


def to_application_error(error: TollwayError) -> ApplicationError:
    """The Temporal form of `error`: its class name as type, retryable and delayed as the class
    says."""
    from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

    return ApplicationError(
        error.message,
        error.details,
        type=type(error).__name__,
        non_retryable=not error.retryable,
        next_retry_delay=error.retry_after,
        category=(
            ApplicationErrorCategory.BENIGN
            if error.benign
            else ApplicationErrorCategory.UNSPECIFIED
        ),
    )
