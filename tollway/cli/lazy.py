"""A command group whose sub-groups are imported when first used, so that a command pays only
for its own imports: `tollway jobs get` loads the HTTP client, not web3 (`chain`), SQLAlchemy
(`tenants`) or Docker (`byoc`). `tollway --help` still lists every group, importing them all.

The sub-groups are the group's `commands` mapping, filled on first read, so everything that reads
`commands` (dispatch, help, completion, "did you mean" suggestions) sees them unchanged."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup

__all__ = ["LazyGroup"]


class LazyGroup(TyperGroup):
    """A Typer group that adds the sub-groups in `lazy` (name: "module:attribute", a Typer
    app) after its own commands, each imported and built on first use. Subclass it with `lazy`
    set, and give the subclass as the app's `cls`."""

    lazy: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands, self.lazy)


class _LazyCommands(MutableMapping[str, Any]):
    """The group's own commands, then the lazy sub-groups, in that order. Values are typer's
    click commands, whose module (typer._click) is private, hence Any."""

    def __init__(self, own: MutableMapping[str, Any], lazy: Mapping[str, str]) -> None:
        self._own = own
        self._lazy = lazy
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self._own:
            return self._own[name]
        if name not in self._built:
            self._built[name] = _build(name, self._lazy[name])  # KeyError: no such command
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._own[name] = command

    def __delitem__(self, name: str) -> None:
        del self._own[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._own, *self._lazy]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self._own, *self._lazy]))


def _build(name: str, where: str) -> Any:
    """The click group for the Typer app at `where`, built as `add_typer(app, name=name)`
    would have built it."""
    module, attribute = where.split(":")
    holder = typer.Typer()
    holder.add_typer(getattr(importlib.import_module(module), attribute), name=name)
    built: Any = typer.main.get_command(holder)
    return built.commands[name]
