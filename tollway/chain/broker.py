"""TicketBroker: where the probabilistic payments settle. A gateway funds its deposit and
reserve here; an orchestrator checks a sender's funds before trusting its tickets and redeems
the winning ones, singly or in a batch, and after a crash finds the redemptions it already
sent."""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import EventData

from tollway.chain.engine import ContractView, tx_hash
from tollway.chain.types import BatchRedemption, Redemption, SenderInfo, TicketOutcome
from tollway.errors import ChainError
from tollway.protocol.ticket import Ticket, u256

__all__ = ["TicketBroker"]


class TicketBroker(ContractView):
    CONTRACT = "TicketBroker"

    # ---- reads ---------------------------------------------------------------------------

    async def sender_info(self, address: str) -> SenderInfo:
        (deposit, withdraw_round), (remaining, claimed) = await self._call(
            "getSenderInfo", to_checksum_address(address)
        )
        return SenderInfo(
            deposit=deposit,
            withdraw_round=withdraw_round,
            reserve_funds_remaining=remaining,
            reserve_claimed_in_current_round=claimed,
        )

    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int:
        """What `claimant` may still take from `reserve_holder`'s reserve this round."""
        return int(
            await self._call(
                "claimableReserve",
                to_checksum_address(reserve_holder),
                to_checksum_address(claimant),
            )
        )

    async def claimed_reserve(self, reserve_holder: str, claimant: str) -> int:
        """What `claimant` took from `reserve_holder`'s reserve this round."""
        return int(
            await self._call(
                "claimedReserve", to_checksum_address(reserve_holder), to_checksum_address(claimant)
            )
        )

    async def get_ticket_hash(self, ticket: Ticket) -> bytes:
        return bytes(await self._call("getTicketHash", ticket.as_contract_tuple()))

    async def used_ticket(self, ticket_hash: bytes) -> bool:
        return bool(await self._call("usedTickets", ticket_hash))

    async def simulate_redeem(
        self, ticket: Ticket, sig: bytes, recipient_rand: int, from_address: str
    ) -> str | None:
        """eth_call of redeemWinningTicket: None if it would succeed, else the revert reason."""
        function = (await self.contract()).functions.redeemWinningTicket(
            ticket.as_contract_tuple(), sig, recipient_rand
        )
        try:
            async with self._engine.errors("simulate redeemWinningTicket"):
                await function.call({"from": to_checksum_address(from_address)})
        except ChainError as exc:
            if exc.details.get("reverted"):
                return exc.message
            raise
        return None

    async def find_redemption(self, ticket: Ticket, from_block: int = 0) -> str | None:
        """The hash of the transaction that redeemed `ticket`, if one did (crash reconciliation).

        Matches WinningTicketRedeemed events by sender and recipient (indexed), then by nonce,
        faceValue, winProb, auxData and keccak256(recipientRand) == recipientRandHash.
        """
        event = (await self.contract()).events.WinningTicketRedeemed
        filters = {
            "sender": to_checksum_address(ticket.sender),
            "recipient": to_checksum_address(ticket.recipient),
        }
        async with self._engine.errors("eth_getLogs WinningTicketRedeemed"):
            logs = await event.get_logs(argument_filters=filters, from_block=from_block)
        for log in logs:
            if _redeemed_event_matches(log, ticket):
                return HexBytes(log["transactionHash"]).to_0x_hex()
        return None

    # ---- funding and leaving -------------------------------------------------------------

    async def fund_deposit(self, key: bytes, amount: int) -> str:
        return await self._send(key, "fundDeposit", value=amount)

    async def fund_reserve(self, key: bytes, amount: int) -> str:
        return await self._send(key, "fundReserve", value=amount)

    async def fund_deposit_and_reserve(self, key: bytes, deposit: int, reserve: int) -> str:
        return await self._send(
            key, "fundDepositAndReserve", deposit, reserve, value=deposit + reserve
        )

    async def fund_deposit_and_reserve_for(
        self, key: bytes, sender: str, deposit: int, reserve: int
    ) -> str:
        """Fund `sender`'s deposit and reserve from `key`'s ETH."""
        return await self._send(
            key,
            "fundDepositAndReserveFor",
            to_checksum_address(sender),
            deposit,
            reserve,
            value=deposit + reserve,
        )

    async def unlock(self, key: bytes) -> str:
        """Start the sender's unlock period (unlockPeriod rounds) before withdraw()."""
        return await self._send(key, "unlock")

    async def cancel_unlock(self, key: bytes) -> str:
        return await self._send(key, "cancelUnlock")

    async def withdraw(self, key: bytes) -> str:
        """Withdraw the sender's deposit and remaining reserve once its unlock period is over."""
        return await self._send(key, "withdraw")

    # ---- redeeming -----------------------------------------------------------------------

    async def redeem_winning_ticket(
        self, key: bytes, ticket: Ticket, sig: bytes, recipient_rand: int
    ) -> Redemption:
        receipt = await self._transact(
            key, "redeemWinningTicket", ticket.as_contract_tuple(), sig, recipient_rand
        )
        transfers = (
            (await self.contract())
            .events.WinningTicketTransfer()
            .process_receipt(receipt, errors=DISCARD)
        )
        return Redemption(
            tx_hash=tx_hash(receipt),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt["effectiveGasPrice"],
            amount=sum(int(event["args"]["amount"]) for event in transfers),
        )

    async def batch_redeem_winning_tickets(
        self, key: bytes, redemptions: Sequence[tuple[Ticket, bytes, int]]
    ) -> BatchRedemption:
        """Redeem `(ticket, sig, recipientRand)` triples in one transaction.

        A ticket the contract refuses is skipped without reverting the others (the revert reason
        is not recorded on-chain). Each outcome says whether the ticket was redeemed, read from
        the WinningTicketRedeemed events, which the contract emits in the batch's order.
        """
        tickets = [ticket.as_contract_tuple() for ticket, _, _ in redemptions]
        sigs = [sig for _, sig, _ in redemptions]
        rands = [rand for _, _, rand in redemptions]
        receipt = await self._transact(key, "batchRedeemWinningTickets", tickets, sigs, rands)

        # (WinningTicketRedeemed event, amount of the WinningTicketTransfer that follows it)
        redeemed: list[tuple[EventData, int]] = []
        broker_events = (await self.contract()).events
        events = [
            *broker_events.WinningTicketRedeemed().process_receipt(receipt, errors=DISCARD),
            *broker_events.WinningTicketTransfer().process_receipt(receipt, errors=DISCARD),
        ]
        for event in sorted(events, key=lambda e: e["logIndex"]):
            if event["event"] == "WinningTicketRedeemed":
                redeemed.append((event, 0))
            elif redeemed:
                last, amount = redeemed[-1]
                redeemed[-1] = (last, amount + int(event["args"]["amount"]))

        outcomes = []
        next_event = 0
        for ticket, _, rand in redemptions:
            won = next_event < len(redeemed) and (
                _redeemed_event_matches(redeemed[next_event][0], ticket)
                and redeemed[next_event][0]["args"]["recipientRand"] == rand
            )
            amount = redeemed[next_event][1] if won else 0
            next_event += won
            outcomes.append(
                TicketOutcome(ticket_hash="0x" + ticket.hash().hex(), redeemed=won, amount=amount)
            )
        return BatchRedemption(
            tx_hash=tx_hash(receipt),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt["effectiveGasPrice"],
            tickets=outcomes,
        )


def _redeemed_event_matches(event: EventData, ticket: Ticket) -> bool:
    """Whether a WinningTicketRedeemed event is for `ticket` (recipientRand against its hash)."""
    args = event["args"]
    return bool(
        to_checksum_address(args["sender"]) == to_checksum_address(ticket.sender)
        and to_checksum_address(args["recipient"]) == to_checksum_address(ticket.recipient)
        and args["senderNonce"] == ticket.sender_nonce
        and args["faceValue"] == ticket.face_value
        and args["winProb"] == ticket.win_prob
        and bytes(args["auxData"]) == ticket.aux_data
        and keccak(u256(args["recipientRand"])) == ticket.recipient_rand_hash
    )
