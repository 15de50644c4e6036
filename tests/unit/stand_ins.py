"""In-memory stand-ins for the chain, shared by the unit tests (no node, no network)."""

from __future__ import annotations

from eth_utils.crypto import keccak

from tollway.chain.types import SenderInfo

FUNDED = SenderInfo(
    deposit=10**18, withdraw_round=0, reserve_funds_remaining=10**18,
    reserve_claimed_in_current_round=0,
)  # fmt: skip

ZERO_HASH = b"\x00" * 32


def round_hash(round_number: int) -> bytes:
    """A deterministic, non-zero stand-in for RoundsManager.blockHashForRound(n)."""
    return keccak(b"round-block-hash:" + round_number.to_bytes(32, "big"))


class InMemoryChainView:
    """Implements the recipient's ChainView protocol from plain attributes.

    `block` is the latest L1 block, `round` the last initialized round; `hashes` maps a round to
    its block hash (rounds not in it answer the zero hash, like an unset round on-chain). The one
    object also plays the contract views (`rounds`, `broker`), so tests set state in one place.
    """

    def __init__(
        self, block: int = 1_000, round_number: int = 10, hashes: dict[int, bytes] | None = None
    ) -> None:
        self.block = block
        self.round = round_number
        self.hashes: dict[int, bytes] = (
            {n: round_hash(n) for n in range(round_number + 1)} if hashes is None else hashes
        )
        self.senders: dict[str, SenderInfo] = {}
        self.gas_price_wei = 10_000_000  # 0.01 gwei, Arbitrum-like
        self.rounds = self.broker = self

    async def block_number(self) -> int:
        return self.block

    async def last_initialized_round(self) -> int:
        return self.round

    async def block_hash_for_round(self, n: int) -> bytes:
        return self.hashes.get(n, ZERO_HASH)

    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int:
        """Every funded sender's reserve is fully claimable (one active orchestrator)."""
        return self.senders.get(reserve_holder, FUNDED).reserve_funds_remaining

    async def gas_price(self) -> int:
        return self.gas_price_wei

    async def sender_info(self, address: str) -> SenderInfo:
        """Every sender is funded unless `senders` says otherwise."""
        return self.senders.get(address, FUNDED)

    def advance(self, blocks: int) -> None:
        self.block += blocks
