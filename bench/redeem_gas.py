"""Gas per winning ticket on the devnet: redeemWinningTicket one at a time against
batchRedeemWinningTickets of 10 and 50 (fresh anvil, contracts deployed, fees through the
BondingManager, each ticket paid from the sender's deposit).

    .venv/bin/python bench/redeem_gas.py
"""

from __future__ import annotations

import asyncio
import statistics

from eth_account import Account

from tollway.chain.client import ChainClient
from tollway.devnet.anvil import AnvilProcess, dev_account_key
from tollway.devnet.chain_setup import activate_orchestrator
from tollway.devnet.deploy import deploy_devnet
from tollway.protocol.signing import sign_digest
from tollway.protocol.ticket import MAX_UINT256, Ticket, recipient_rand_hash

ETHER = 10**18
RAND = 42


async def _tickets(
    chain: ChainClient, sender: str, recipient: str, first_nonce: int, n: int
) -> list[Ticket]:
    round_ = await chain.rounds.last_initialized_round()
    block_hash = await chain.rounds.block_hash_for_round(round_)
    return [
        Ticket(
            recipient=recipient,
            sender=sender,
            face_value=ETHER // 1000,
            win_prob=MAX_UINT256,
            sender_nonce=first_nonce + i,
            recipient_rand_hash=recipient_rand_hash(RAND),
            creation_round=round_,
            creation_round_block_hash=block_hash,
        )
        for i in range(n)
    ]


async def measure(rpc_url: str) -> None:
    deployer, orchestrator, gateway = (dev_account_key(i) for i in range(3))
    contracts = deploy_devnet(rpc_url, deployer, round_length=1_000)
    async with ChainClient(rpc_url, contracts) as chain:
        await activate_orchestrator(chain, deployer, orchestrator)
        await chain.broker.fund_deposit_and_reserve(gateway, 100 * ETHER, 10 * ETHER)
        sender = Account.from_key(gateway).address
        recipient = Account.from_key(orchestrator).address
        nonce = 1

        singles = []
        for ticket in await _tickets(chain, sender, recipient, nonce, 6):
            sig = sign_digest(gateway, ticket.hash())
            singles.append(
                (await chain.broker.redeem_winning_ticket(orchestrator, ticket, sig, RAND)).gas_used
            )
        nonce += 6
        # The first redemption also turns the recipient's zero fee slots non-zero (SSTORE 20k).
        single = statistics.median(singles[1:])
        print(
            f"redeemWinningTicket           first {singles[0]:>9,} gas, "
            f"then {single:>9,.0f} gas per ticket"
        )
        for size in (10, 50):
            tickets = await _tickets(chain, sender, recipient, nonce, size)
            nonce += size
            batch = [(t, sign_digest(gateway, t.hash()), RAND) for t in tickets]
            result = await chain.broker.batch_redeem_winning_tickets(orchestrator, batch)
            assert all(t.redeemed for t in result.tickets)
            per_ticket = result.gas_used / size
            print(
                f"batchRedeemWinningTickets({size:>2})  {result.gas_used:>9,} gas, "
                f"{per_ticket:>9,.0f} gas per ticket ({per_ticket / single:.0%} of single)"
            )


def main() -> None:
    with AnvilProcess() as anvil:
        asyncio.run(measure(anvil.rpc_url))


if __name__ == "__main__":
    main()
