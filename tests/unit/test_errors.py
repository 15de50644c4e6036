"""One exception tree: every error type that crosses Temporal is a class of tollway.errors, and
the type map is derived from the classes."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from temporalio.exceptions import ApplicationErrorCategory

from tollway import errors
from tollway.errors import (
    ERROR_TYPES,
    ChainFault,
    OrchestratorFailed,
    PlacementError,
    RecipientNotActive,
    TollwayError,
    error_type,
    to_application_error,
)

PACKAGE = Path(errors.__file__).resolve().parent


def test_every_class_of_the_tree_is_in_the_type_map() -> None:
    def tree(cls: type[TollwayError]) -> set[type[TollwayError]]:
        return {cls, *(c for sub in cls.__subclasses__() for c in tree(sub))}

    assert set(ERROR_TYPES.values()) == tree(TollwayError)
    assert ERROR_TYPES["PlacementError"] is PlacementError
    assert error_type("ChainFault") is ChainFault
    assert error_type("NotOneOfOurs") is TollwayError
    assert error_type(None) is TollwayError


def test_the_temporal_form_keeps_type_retryability_details_and_delay() -> None:
    failed = to_application_error(OrchestratorFailed("answered 502", status_code=502))
    assert failed.type == "OrchestratorFailed" and failed.non_retryable
    assert failed.details == ({"status_code": 502},)
    waiting = to_application_error(RecipientNotActive("not active this round"))
    assert not waiting.non_retryable
    assert waiting.next_retry_delay == timedelta(seconds=30)
    assert waiting.category == ApplicationErrorCategory.BENIGN  # a wait, logged without a trace
    assert failed.category == ApplicationErrorCategory.UNSPECIFIED


def test_no_temporal_error_type_is_a_bare_string_outside_errors_py() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name != "ApplicationError":
                continue
            for keyword in node.keywords:
                if keyword.arg == "type" and isinstance(keyword.value, ast.Constant):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
