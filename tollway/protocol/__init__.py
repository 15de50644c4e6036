"""Livepeer's wire format, byte for byte: job header and JobParameters, job token, payment
protobuf, tickets, signatures, orchestrator info, signed quotes and live streams' channels.
Imports nothing of tollway but its exception tree (`tollway.errors`), so each side of a boundary
speaks it the same way.
Each module states its own public names; importing one loads only what it needs (the signing
modules pull in eth-account, which a GPU worker has no use for)."""

__all__ = [
    "capability",
    "header",
    "info",
    "lp_rpc_pb2",
    "payment",
    "price",
    "quote",
    "signing",
    "stream",
    "ticket",
    "token",
]
