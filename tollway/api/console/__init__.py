"""The operator console: a static page per role at `/console`, its scripts and styles served by
the app itself (no CDN), reading the role's own JSON API with the key the operator types in."""

from tollway.api.console.routes import ConsoleConfig, install_console

__all__ = ["ConsoleConfig", "install_console"]
