"""What only the embedded stack needs: anvil, the compiler and deploy script for our devnet
contracts, and `tollway up`/`down`/`status`/`demo` with their state file. A real deployment
runs none of it."""

__all__ = [
    "anvil",
    "chain_setup",
    "compile",
    "demo",
    "deploy",
    "down",
    "processes",
    "state",
    "status",
    "toolpaths",
    "up",
]
