"""The protocol contracts on-chain: a transaction engine (RPC failover, nonces, fee bumps), one
view per contract, the deployment's addresses, and the Solidity sources with their compiled
artifacts."""

__all__ = [
    "addresses",
    "artifacts",
    "bonding",
    "broker",
    "client",
    "connect",
    "engine",
    "registry",
    "rounds",
    "token",
    "types",
]
