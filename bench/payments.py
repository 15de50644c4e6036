"""Payment figures: PM tickets signed/s and verified/s on one core (hash + EIP-191 recover +
win check, as the orchestrator does per ticket; goal >= 5,000 verifications/s), then gas per
redeemed ticket, single against batches of 10 and 50 (bench/redeem_gas.py; goal: batch <= half).

    .venv/bin/python bench/payments.py [--tickets 5000] [--no-gas]
"""

from __future__ import annotations

import argparse
import os
import runpy
import time
from pathlib import Path

from eth_account import Account

from tollway.protocol.signing import recover_digest, sign_digest
from tollway.protocol.ticket import Ticket, is_winning, win_prob_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--no-gas", action="store_true", help="skip the on-chain gas figures")
    args = parser.parse_args()
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # one core, as the goal says
    sender, recipient = Account.create(), Account.create()
    key = bytes(sender.key)
    win_prob = win_prob_for(8_000_000_000, 10**15)
    tickets = [
        Ticket(
            recipient=recipient.address,
            sender=sender.address,
            face_value=10**15,
            win_prob=win_prob,
            sender_nonce=nonce,
            recipient_rand_hash=b"\x07" * 32,
            creation_round=1,
            creation_round_block_hash=b"\x09" * 32,
        )
        for nonce in range(1, args.tickets + 1)
    ]

    started = time.perf_counter()
    signatures = [sign_digest(key, t.hash()) for t in tickets]
    signed = time.perf_counter() - started

    started = time.perf_counter()
    for ticket, signature in zip(tickets, signatures, strict=True):
        assert recover_digest(ticket.hash(), signature) == sender.address
        is_winning(signature, 12345, ticket.win_prob)
    verified = time.perf_counter() - started

    n = args.tickets
    print(f"tickets signed   {n / signed:7.0f} /s  ({signed / n * 1e6:.0f} µs each, one core)")
    print(f"tickets verified {n / verified:7.0f} /s  ({verified / n * 1e6:.0f} µs each, one core)")
    if not args.no_gas:
        os.sched_setaffinity(0, cores)
        runpy.run_path(str(Path(__file__).with_name("redeem_gas.py")), run_name="redeem_gas")[
            "main"
        ]()


if __name__ == "__main__":
    main()
