"""The `tollway` command line: the embedded stack, each role on its own, chain and BYOC tools."""

from tollway.cli.main import app

__all__ = ["app"]
