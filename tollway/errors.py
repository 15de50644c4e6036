"""tollway's exception tree, mapped in one place to HTTP statuses and Temporal errors.

    TollwayError                      (500, retryable)
    ├── BadRequest                    (400)
    │   ├── BadJobHeader              malformed or missing `Livepeer` header / field
    │   ├── BadSignature              job or address signature does not recover
    │   ├── BadPayment                `Livepeer-Payment` undecodable or a ticket refused
    │   ├── InsufficientCredit        paid credit below the orchestrator's minimum
    │   ├── UnacceptableTicketParams  an orchestrator's params break the gateway's limits
    │   ├── DeclarationError          a capability declaration file that cannot be served
    │   │   └── PlacementError        a declared replica fits on no GPU worker
    │   └── BodyTooLarge              (413)
    ├── Unauthorized                  (401) wrong orchestrator secret or API key
    ├── NotFound                      (404) unknown job
    ├── UnknownCapability             (503) no such capability registered here
    ├── CapacityExhausted             (503) every slot of the capability is busy
    ├── InsufficientSenderReserve     (503) sender's deposit/reserve cannot back tickets
    ├── NoOrchestrator                (503) discovery found nobody able to serve the job
    ├── AllOrchestratorsFailed        (502) every candidate failed; lists each attempt
    ├── DiscoveryFailed               (500) the gateway could not read its market view
    ├── JobStillRunning               (504) a synchronous request outlived its wait
    ├── WorkerFailed                  (502) the BYOC container failed or timed out
    │   └── ContainerSetupFailed      bad image or spec; retrying cannot help
    └── ChainError                    (503) the chain refused or could not be reached

Every error answers HTTP with `{"error": {"type", "message", ...details}}`; `to_application_error`
turns one into a Temporal `ApplicationError` whose type is the class name.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TollwayError(Exception):
    status_code: ClassVar[int] = 500
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error": {"type": type(self).__name__, "message": self.message, **self.details}}


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
        return cls(f"invalid fields: {names}", fields=fields)


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


class BodyTooLarge(BadRequest):
    status_code = 413


class Unauthorized(TollwayError):
    status_code = 401
    retryable = False


class NotFound(TollwayError):
    status_code = 404
    retryable = False


class UnknownCapability(TollwayError):
    status_code = 503
    retryable = False


class CapacityExhausted(TollwayError):
    status_code = 503


class InsufficientSenderReserve(TollwayError):
    status_code = 503
    retryable = False


class NoOrchestrator(TollwayError):
    status_code = 503
    retryable = False


class AllOrchestratorsFailed(TollwayError):
    status_code = 502
    retryable = False


class DiscoveryFailed(TollwayError):
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


ERROR_TYPES: dict[str, type[TollwayError]] = {
    cls.__name__: cls
    for cls in (
        TollwayError,
        BadRequest,
        BadJobHeader,
        BadSignature,
        BadPayment,
        InsufficientCredit,
        UnacceptableTicketParams,
        DeclarationError,
        BodyTooLarge,
        Unauthorized,
        NotFound,
        UnknownCapability,
        CapacityExhausted,
        InsufficientSenderReserve,
        NoOrchestrator,
        AllOrchestratorsFailed,
        DiscoveryFailed,
        JobStillRunning,
        WorkerFailed,
        ContainerSetupFailed,
        ChainError,
    )
}


def to_application_error(error: TollwayError) -> Exception:
    """The Temporal form of `error`: its class name as type, retryable as the class says."""
    from temporalio.exceptions import ApplicationError

    return ApplicationError(
        error.message, error.details, type=type(error).__name__, non_retryable=not error.retryable
    )
