"""Livepeer's wire format, byte for byte: job header and JobParameters, job token, payment
protobuf, tickets, signatures, orchestrator info and signed quotes. Imports nothing of tollway
but its exception tree (`tollway.errors`), so each side of a boundary speaks it the same way."""

from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import (
    MAX_HEADER_BYTES,
    MAX_TIMEOUT_SECONDS,
    JobParameters,
    JobRequest,
    encode_eth_address_header,
    verify_eth_address_header,
)
from tollway.protocol.info import (
    MAX_PRICE_WEI,
    CapabilityOffer,
    Gpu,
    OrchestratorInfo,
    tollway_version,
    version_tuple,
)
from tollway.protocol.payment import Payment, SignedTicket, TicketParams
from tollway.protocol.price import (
    MAX_REPORTED_UNITS,
    UNIT_HEADER,
    UNITS_HEADER,
    WEI_PER_ETH,
    Price,
    PriceUnit,
    billed_units,
    to_wei,
)
from tollway.protocol.quote import Quote
from tollway.protocol.signing import (
    SECP256K1_HALF_N,
    parse_hex_signature,
    recover_digest,
    recover_message,
    sign_digest,
    sign_message,
)
from tollway.protocol.ticket import (
    MAX_UINT256,
    ZERO_HASH,
    Ticket,
    aux_data,
    derive_recipient_rand,
    is_winning,
    minimal_bytes,
    recipient_rand_hash,
    ticket_ev,
    u256,
    win_prob_for,
)
from tollway.protocol.token import MAX_TOKEN_BYTES, JobToken

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_PRICE_WEI",
    "MAX_REPORTED_UNITS",
    "MAX_TIMEOUT_SECONDS",
    "MAX_TOKEN_BYTES",
    "MAX_UINT256",
    "SECP256K1_HALF_N",
    "UNITS_HEADER",
    "UNIT_HEADER",
    "WEI_PER_ETH",
    "ZERO_HASH",
    "CapabilityOffer",
    "ExternalCapability",
    "Gpu",
    "JobParameters",
    "JobRequest",
    "JobToken",
    "OrchestratorInfo",
    "Payment",
    "Price",
    "PriceUnit",
    "Quote",
    "SignedTicket",
    "Ticket",
    "TicketParams",
    "aux_data",
    "billed_units",
    "derive_recipient_rand",
    "encode_eth_address_header",
    "is_winning",
    "minimal_bytes",
    "parse_hex_signature",
    "recipient_rand_hash",
    "recover_digest",
    "recover_message",
    "sign_digest",
    "sign_message",
    "ticket_ev",
    "to_wei",
    "tollway_version",
    "u256",
    "verify_eth_address_header",
    "version_tuple",
    "win_prob_for",
]
