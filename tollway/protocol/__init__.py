"""Livepeer's wire format, byte for byte: job header and JobParameters, job token, payment
protobuf, tickets, signatures, orchestrator info and signed quotes. Imports nothing of tollway
but its exception tree (`tollway.errors`), so each side of a boundary speaks it the same way."""
