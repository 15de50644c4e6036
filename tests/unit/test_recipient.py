"""TicketRecipient with a real SQLite ledger: params, crediting, and every refusal all-or-nothing.

As go-livepeer's recipient: recipientRand, credit = EV per accepted ticket, params expiry,
the recipient pipeline and replay protection.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from tollway.chain.types import SenderInfo
from tollway.errors import BadPayment, InsufficientSenderReserve, RoundNotReady
from tollway.payments.ledger import Ledger
from tollway.payments.recipient import (
    MAX_NONCES_PER_PARAMS,
    TicketPolicy,
    TicketRecipient,
    face_value_for,
    max_float_for,
)
from tollway.payments.sender import NonceStore, TicketSender
from tollway.payments.winners import WinningTicket
from tollway.protocol import lp_rpc_pb2 as pb
from tollway.protocol.payment import Payment, SignedTicket, TicketParams
from tollway.protocol.price import Price
from tollway.protocol.signing import recover_digest, sign_digest
from tollway.protocol.ticket import (
    MAX_UINT256,
    derive_recipient_rand,
    is_winning,
    minimal_bytes,
    recipient_rand_hash,
    win_prob_for,
)

from .stand_ins import InMemoryChainView, round_hash

CAPABILITY = "echo"
PRICE = Price(price_per_unit=1_000, pixels_per_unit=1)
EV = 10**9
FACE_VALUE = (10**12 // 256) * 256 + 0xFF  # low byte non-zero (see the re-split test)
LOTTERY = TicketPolicy(ev_wei=EV, face_value_wei=FACE_VALUE)
CERTAIN = TicketPolicy(ev_wei=FACE_VALUE, face_value_wei=FACE_VALUE)

ORCHESTRATOR: LocalAccount = Account.create()
OTHER_ORCHESTRATOR: LocalAccount = Account.create()


@dataclass
class Env:
    tmp_path: Path
    chain: InMemoryChainView
    ledger: Ledger
    recipient: TicketRecipient
    gateway: LocalAccount
    sender: TicketSender
    intruder: LocalAccount

    def balance(self, sender: str | None = None, capability: str = CAPABILITY) -> int:
        return self.ledger.balance_wei(sender or self.gateway.address, capability)

    async def params(self, price: Price = PRICE) -> TicketParams:
        return await self.recipient.ticket_params(self.gateway.address, price)

    async def receive(self, payment: Payment, sender: str | None = None) -> int:
        """Deliver `payment` as the orchestrator route does (decoded from its header)."""
        receipt = await self.recipient.receive(
            Payment.decode(payment.encode()), sender or self.gateway.address, CAPABILITY
        )
        return receipt.credited_wei


def make_env(tmp_path: Path, policy: TicketPolicy = LOTTERY) -> Env:
    chain = InMemoryChainView(block=1_000, round_number=10)
    ledger = Ledger(tmp_path / "orchestrator" / "ledger.db")
    gateway: LocalAccount = Account.create()
    nonces = NonceStore(tmp_path / "gateway" / "nonces.db")
    return Env(
        tmp_path=tmp_path,
        chain=chain,
        ledger=ledger,
        recipient=TicketRecipient(
            ORCHESTRATOR.address, ledger, chain, policy, chain_read_ttl_seconds=0
        ),
        gateway=gateway,
        sender=TicketSender(bytes(gateway.key), gateway.address, nonces),
        intruder=Account.create(),
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = make_env(tmp_path)
    yield environment
    environment.ledger.close()


@pytest.fixture
def certain_env(tmp_path: Path) -> Iterator[Env]:
    environment = make_env(tmp_path, CERTAIN)
    yield environment
    environment.ledger.close()


def expected_credit(params: TicketParams, count: int) -> int:
    return count * params.face_value * params.win_prob // MAX_UINT256


def resigned(payment: Payment, account: LocalAccount, index: int = -1) -> Payment:
    """`payment` with one ticket's signature replaced by `account`'s signature of that ticket."""
    tickets = list(payment.tickets)
    target = tickets[index]
    ticket = payment.params.ticket(payment.sender, target.sender_nonce)
    tickets[index] = SignedTicket(
        sender_nonce=target.sender_nonce, sig=sign_digest(bytes(account.key), ticket.hash())
    )
    return payment.model_copy(update={"tickets": tickets})


def honest_copy(payment: Payment, params: TicketParams, account: LocalAccount) -> Payment:
    """The same nonces, re-signed by `account` for the genuine `params` at the quoted price."""
    key = bytes(account.key)
    tickets = [
        SignedTicket(
            sender_nonce=t.sender_nonce,
            sig=sign_digest(key, params.ticket(account.address, t.sender_nonce).hash()),
        )
        for t in payment.tickets
    ]
    return Payment(sender=account.address, params=params, tickets=tickets, expected_price=PRICE)


async def assert_refused(env: Env, payment: Payment, field: str, sender: str | None = None) -> None:
    before = env.balance()
    winners_before = env.ledger.pending_winners()
    with pytest.raises(BadPayment) as info:
        await env.receive(payment, sender)
    assert info.value.details.get("field") == field, info.value.message
    assert env.balance() == before
    if sender is not None:
        assert env.balance(sender) == 0
    assert env.ledger.pending_winners() == winners_before


# --- ticket params ----------------------------------------------------------------------------


async def test_ticket_params_follow_policy_and_chain(env: Env) -> None:
    params = await env.params()
    assert params.recipient == ORCHESTRATOR.address
    assert params.face_value == FACE_VALUE
    assert params.win_prob == win_prob_for(EV, FACE_VALUE)
    assert params.expiration_block == 1_000 + 40
    assert params.creation_round == 10
    assert params.creation_round_block_hash == round_hash(10)
    assert len(params.seed) == 32
    assert len(params.recipient_rand_hash) == 32
    assert params.aux_data == (10).to_bytes(32, "big") + round_hash(10)
    assert (await env.params()).seed != params.seed


async def test_ticket_params_commit_to_an_hmac_rand(env: Env) -> None:
    params = await env.params()
    secret = env.ledger.secret("recipient_rand_secret", b"unused")
    rand = derive_recipient_rand(
        secret,
        seed=params.seed,
        sender=env.gateway.address,
        face_value=params.face_value,
        win_prob=params.win_prob,
        expiration_block=params.expiration_block,
        price_per_unit=PRICE.price_per_unit,
        pixels_per_unit=PRICE.pixels_per_unit,
        aux=params.aux_data,
    )
    assert recipient_rand_hash(rand) == params.recipient_rand_hash


async def test_ticket_params_fall_back_to_previous_round_when_hash_is_zero(env: Env) -> None:
    env.chain.round = 11  # round 11 initialized but its block hash is not known (zero)
    params = await env.params()
    assert params.creation_round == 10
    assert params.creation_round_block_hash == round_hash(10)


async def test_no_params_for_a_round_without_a_block_hash(env: Env) -> None:
    """Round 0 of a new chain has no recorded block hash: tickets with empty auxData would be
    refused by Livepeer's TicketBroker, so the orchestrator gives out no params at all."""
    env.chain.round = 0
    env.chain.hashes = {}
    with pytest.raises(RoundNotReady, match="round 0 has no block hash"):
        await env.params()


async def test_free_price_gives_zero_face_value_and_win_prob(env: Env) -> None:
    params = await env.params(Price(price_per_unit=0))
    assert params.face_value == 0
    assert params.win_prob == 0


# --- valid payments ---------------------------------------------------------------------------


async def test_valid_payment_credits_exactly_count_times_ticket_ev(env: Env) -> None:
    params = await env.params()
    batch = env.sender.batch(params, PRICE, 5)
    credited = await env.receive(batch.payment)
    expected = 5 * FACE_VALUE * params.win_prob // MAX_UINT256
    assert credited == expected
    assert env.balance() == expected
    assert batch.ev_wei == expected
    assert expected >= 5 * EV  # ticket EV rounds slightly up
    assert env.balance(capability="other") == 0
    assert env.balance(env.intruder.address) == 0


async def test_credit_accumulates_exactly_across_payments(env: Env) -> None:
    params = await env.params()
    await env.receive(env.sender.batch(params, PRICE, 2).payment)
    await env.receive(env.sender.batch(params, PRICE, 3).payment)
    assert env.balance() == expected_credit(params, 5)


async def test_receive_returns_winners_when_win_prob_is_max(certain_env: Env) -> None:
    env = certain_env
    params = await env.params()
    assert params.win_prob == MAX_UINT256
    batch = env.sender.batch(params, PRICE, 3)
    receipt = await env.recipient.receive(batch.payment, env.gateway.address, CAPABILITY)
    assert receipt.tickets == 3
    assert receipt.credited_wei == 3 * FACE_VALUE
    assert len(receipt.winners) == 3
    assert sorted(w.sender_nonce for w in receipt.winners) == [1, 2, 3]
    for winner in receipt.winners:
        assert recipient_rand_hash(winner.recipient_rand) == params.recipient_rand_hash
        assert recover_digest(winner.ticket().hash(), winner.signature) == env.gateway.address
        assert winner.params_expiration_block == params.expiration_block


async def test_winners_are_persisted_in_the_ledger(certain_env: Env) -> None:
    env = certain_env
    params = await env.params()
    batch = env.sender.batch(params, PRICE, 2)
    receipt = await env.recipient.receive(batch.payment, env.gateway.address, CAPABILITY)
    pending = env.ledger.pending_winners()
    assert sorted(h for h, _ in pending) == sorted(w.ticket_hash for w in receipt.winners)
    for ticket_hash, body in pending:
        winner = WinningTicket.model_validate(json.loads(body))
        assert winner.ticket_hash == ticket_hash
        expected_hash = params.ticket(env.gateway.address, winner.sender_nonce).hash()
        assert ticket_hash == "0x" + expected_hash.hex()
    env.ledger.mark_handed_off(pending[0][0])
    assert env.ledger.pending_winners() == pending[1:]


async def test_lottery_winners_match_the_winning_rule(tmp_path: Path) -> None:
    env = make_env(tmp_path, TicketPolicy(ev_wei=FACE_VALUE // 2, face_value_wei=FACE_VALUE))
    try:
        params = await env.params()
        batch = env.sender.batch(params, PRICE, 16)
        receipt = await env.recipient.receive(batch.payment, env.gateway.address, CAPABILITY)
        rand = derive_recipient_rand(
            env.ledger.secret("recipient_rand_secret", b"unused"),
            seed=params.seed,
            sender=env.gateway.address,
            face_value=params.face_value,
            win_prob=params.win_prob,
            expiration_block=params.expiration_block,
            price_per_unit=PRICE.price_per_unit,
            pixels_per_unit=PRICE.pixels_per_unit,
            aux=params.aux_data,
        )
        tickets = batch.payment.tickets
        expected = {t.sender_nonce for t in tickets if is_winning(t.sig, rand, params.win_prob)}
        assert {w.sender_nonce for w in receipt.winners} == expected
        assert len(env.ledger.pending_winners()) == len(expected)
        assert receipt.credited_wei == expected_credit(params, 16)  # losers are credited too
    finally:
        env.ledger.close()


# --- attacks: refused, nothing credited, nonces not consumed -----------------------------------


async def test_replayed_payment_is_refused(env: Env) -> None:
    params = await env.params()
    payment = env.sender.batch(params, PRICE, 3).payment
    await env.receive(payment)
    credited = env.balance()
    assert credited == expected_credit(params, 3)
    await assert_refused(env, payment, "sender_nonce")
    assert env.balance() == credited
    # a single replayed nonce among fresh ones refuses the whole batch
    fresh = env.sender.batch(params, PRICE, 2).payment
    mixed = fresh.model_copy(update={"tickets": [*fresh.tickets, payment.tickets[0]]})
    await assert_refused(env, mixed, "sender_nonce")
    await env.receive(fresh)
    assert env.balance() == expected_credit(params, 5)


async def test_duplicate_nonce_inside_one_payment_is_refused(env: Env) -> None:
    params = await env.params()
    good = env.sender.batch(params, PRICE, 2).payment
    doubled = good.model_copy(update={"tickets": [*good.tickets, good.tickets[0]]})
    await assert_refused(env, doubled, "sender_nonce")
    await env.receive(good)
    assert env.balance() == expected_credit(params, 2)


async def test_ticket_signed_by_someone_else_is_refused(env: Env) -> None:
    params = await env.params()
    good = env.sender.batch(params, PRICE, 3).payment
    await assert_refused(env, resigned(good, env.intruder, 0), "sig")
    await env.receive(good)
    assert env.balance() == expected_credit(params, 3)


async def test_only_last_ticket_bad_credits_nothing(env: Env) -> None:
    params = await env.params()
    good = env.sender.batch(params, PRICE, 4).payment
    await assert_refused(env, resigned(good, env.intruder, -1), "sig")
    broken = list(good.tickets)
    broken[-1] = SignedTicket(sender_nonce=broken[-1].sender_nonce, sig=broken[-1].sig[:64])
    await assert_refused(env, good.model_copy(update={"tickets": broken}), "sig")
    renumbered = list(good.tickets)
    renumbered[-1] = SignedTicket(sender_nonce=99, sig=renumbered[-1].sig)
    await assert_refused(env, good.model_copy(update={"tickets": renumbered}), "sig")
    await env.receive(good)
    assert env.balance() == expected_credit(params, 4)


async def test_payment_sender_differing_from_job_sender_is_refused(env: Env) -> None:
    params = await env.params()
    good = env.sender.batch(params, PRICE, 2).payment
    # the job was signed by the intruder, but the payment names (and is signed by) the gateway
    await assert_refused(env, good, "sender", sender=env.intruder.address)
    # a payment naming (and signed by) the intruder, attached to a job the gateway signed
    intruder_sender = TicketSender(
        bytes(env.intruder.key), env.intruder.address, NonceStore(env.tmp_path / "i.db")
    )
    theirs = intruder_sender.batch(params, PRICE, 2).payment
    await assert_refused(env, theirs, "sender")
    await env.receive(good)
    assert env.balance() == expected_credit(params, 2)


async def test_empty_payment_is_refused(env: Env) -> None:
    params = await env.params()
    good = env.sender.batch(params, PRICE, 1).payment
    await assert_refused(env, good.model_copy(update={"tickets": []}), "ticket_sender_params")


async def test_params_for_another_recipient_are_refused(env: Env) -> None:
    other = TicketRecipient(
        OTHER_ORCHESTRATOR.address, env.ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
    )
    foreign = await other.ticket_params(env.gateway.address, PRICE)
    await assert_refused(env, env.sender.batch(foreign, PRICE, 2).payment, "recipient")
    ours = await env.params()
    redirected = ours.model_copy(update={"recipient": OTHER_ORCHESTRATOR.address})
    bad = env.sender.batch(redirected, PRICE, 2).payment
    await assert_refused(env, bad, "recipient")
    assert env.balance() == 0
    await env.receive(honest_copy(bad, ours, env.gateway))  # same rand hash, same nonces
    assert env.balance() == expected_credit(ours, 2)


async def test_params_issued_by_another_orchestrator_with_our_address_are_refused(
    env: Env, tmp_path: Path
) -> None:
    """Same address, different secret (e.g. another ledger): the rand cannot be re-derived."""
    impostor_ledger = Ledger(tmp_path / "impostor.db")
    try:
        impostor = TicketRecipient(
            ORCHESTRATOR.address, impostor_ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
        )
        params = await impostor.ticket_params(env.gateway.address, PRICE)
    finally:
        impostor_ledger.close()
    await assert_refused(env, env.sender.batch(params, PRICE, 2).payment, "recipient_rand_hash")


@pytest.mark.parametrize(
    "change",
    [
        "recipient_rand_hash",
        "face_value",
        "win_prob",
        "seed",
        "expiration_block",
        "creation_round",
        "price",
        "sender",
    ],
)
async def test_forged_params_are_refused(env: Env, change: str) -> None:
    params = await env.params()
    price = PRICE
    sender = env.sender
    if change == "recipient_rand_hash":
        forged = params.model_copy(update={"recipient_rand_hash": recipient_rand_hash(12345)})
    elif change == "face_value":
        forged = params.model_copy(update={"face_value": params.face_value * 10})
    elif change == "win_prob":
        forged = params.model_copy(update={"win_prob": MAX_UINT256})
    elif change == "seed":
        forged = params.model_copy(update={"seed": bytes(32)})
    elif change == "expiration_block":
        forged = params.model_copy(update={"expiration_block": params.expiration_block + 10_000})
    elif change == "creation_round":
        forged = params.model_copy(
            update={"creation_round": 9, "creation_round_block_hash": round_hash(9)}
        )
    elif change == "price":
        forged, price = params, Price(price_per_unit=1)
    else:  # params issued to the gateway, spent by the intruder under its own name
        forged = params
        sender = TicketSender(
            bytes(env.intruder.key), env.intruder.address, NonceStore(env.tmp_path / "i.db")
        )
    payment = sender.batch(forged, price, 2).payment
    await assert_refused(env, payment, "recipient_rand_hash", sender=payment.sender)
    # the nonces were not consumed: the honest payment with the very same nonces is accepted
    honest = honest_copy(payment, params, env.gateway)
    assert [t.sender_nonce for t in honest.tickets] == [t.sender_nonce for t in payment.tickets]
    await env.receive(honest)
    assert env.balance() == expected_credit(params, 2)


def _resplit_face_and_win(params: TicketParams) -> tuple[TicketParams, Price]:
    """Move the last byte of faceValue to the front of winProb: same bytes, other values."""
    face_bytes, win_bytes = minimal_bytes(params.face_value), minimal_bytes(params.win_prob)
    assert face_bytes[-1] != 0 and len(win_bytes) < 32
    forged = params.model_copy(
        update={
            "face_value": int.from_bytes(face_bytes[:-1], "big"),
            "win_prob": int.from_bytes(face_bytes[-1:] + win_bytes, "big"),
        }
    )
    return forged, PRICE


def _resplit_expiration_and_price(params: TicketParams) -> tuple[TicketParams, Price]:
    """Move the first byte of the price to the end of expirationBlock: params never expire."""
    price_bytes = minimal_bytes(PRICE.price_per_unit)
    assert len(price_bytes) > 1 and price_bytes[1] != 0
    expiration = minimal_bytes(params.expiration_block) + price_bytes[:1]
    forged = params.model_copy(update={"expiration_block": int.from_bytes(expiration, "big")})
    return forged, Price(price_per_unit=int.from_bytes(price_bytes[1:], "big"))


Resplit = Callable[[TicketParams], tuple[TicketParams, Price]]


@pytest.mark.parametrize("resplit", [_resplit_face_and_win, _resplit_expiration_and_price])
async def test_params_resplit_at_field_boundaries_are_refused(env: Env, resplit: Resplit) -> None:
    """The rand commitment must bind each field, not just their concatenated bytes.

    derive_recipient_rand concatenates variable-length minimal big-endian fields with no
    separator, so a sender can move bytes between adjacent fields and keep recipientRandHash:
    e.g. a faceValue 256x smaller with a winProb ~256x larger (tickets whose face value may no
    longer cover redemption gas), or an expirationBlock 256x later (params that never expire).
    """
    params = await env.params()
    forged, price = resplit(params)
    assert (forged.face_value, forged.win_prob, forged.expiration_block) != (
        params.face_value,
        params.win_prob,
        params.expiration_block,
    )
    payment = env.sender.batch(forged, price, 2).payment
    await assert_refused(env, payment, "recipient_rand_hash")


async def test_expired_params_are_refused(env: Env) -> None:
    params = await env.params()
    payment = env.sender.batch(params, PRICE, 2).payment
    env.chain.block = params.expiration_block  # expirationBlock <= latest block: expired
    await assert_refused(env, payment, "expiration_block")
    env.chain.advance(100)
    await assert_refused(env, payment, "expiration_block")
    env.chain.block = params.expiration_block - 1  # last block at which they are still valid
    await env.receive(payment)
    assert env.balance() == expected_credit(params, 2)


async def test_more_than_600_nonces_for_one_params_are_refused(env: Env) -> None:
    params = await env.params()
    payment = env.sender.batch(params, PRICE, MAX_NONCES_PER_PARAMS + 1).payment
    await assert_refused(env, payment, "sender_nonce")
    # nothing was consumed: the first 600 are accepted...
    first = payment.model_copy(update={"tickets": payment.tickets[:MAX_NONCES_PER_PARAMS]})
    await env.receive(first)
    assert env.balance() == expected_credit(params, MAX_NONCES_PER_PARAMS)
    # ...and the 601st nonce, alone, is over the per-params limit
    last = payment.model_copy(update={"tickets": payment.tickets[MAX_NONCES_PER_PARAMS:]})
    await assert_refused(env, last, "sender_nonce")
    # fresh params start a fresh allowance
    fresh = await env.params()
    await env.receive(env.sender.batch(fresh, PRICE, 1).payment)
    assert env.balance() == expected_credit(params, MAX_NONCES_PER_PARAMS + 1)


def _with_proto(payment: Payment, edit: str) -> str:
    message = pb.Payment()
    message.ParseFromString(base64.b64decode(payment.encode()))
    if edit == "negative_price":
        message.expected_price.pricePerUnit = -1
    elif edit == "negative_pixels":
        message.expected_price.pixelsPerUnit = -1
    else:
        message.expiration_params.creation_round = -1
        message.ticket_params.expiration_params.creation_round = -1
    return base64.b64encode(message.SerializeToString()).decode()


@pytest.mark.parametrize("edit", ["negative_price", "negative_pixels", "negative_round"])
async def test_negative_int64_fields_are_bad_payment_not_a_crash(env: Env, edit: str) -> None:
    """A header with a negative price or round must be a 400 (BadPayment), never a 500."""
    params = await env.params()
    header = _with_proto(env.sender.batch(params, PRICE, 1).payment, edit)
    with pytest.raises(BadPayment):
        await env.recipient.receive(Payment.decode(header), env.gateway.address, CAPABILITY)
    assert env.balance() == 0


# --- restart, debit ---------------------------------------------------------------------------


async def test_restart_keeps_secret_credit_and_used_nonces(env: Env) -> None:
    params = await env.params()
    first = env.sender.batch(params, PRICE, 2).payment
    await env.receive(first)
    env.ledger.close()

    ledger = Ledger(env.tmp_path / "orchestrator" / "ledger.db")
    try:
        restarted = TicketRecipient(
            ORCHESTRATOR.address, ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
        )
        assert ledger.balance_wei(env.gateway.address, CAPABILITY) == expected_credit(params, 2)
        second = env.sender.batch(params, PRICE, 3).payment  # nonces 3..5, params from before
        receipt = await restarted.receive(second, env.gateway.address, CAPABILITY)
        assert receipt.credited_wei == expected_credit(params, 3)
        assert ledger.balance_wei(env.gateway.address, CAPABILITY) == expected_credit(params, 5)
        with pytest.raises(BadPayment) as info:
            await restarted.receive(first, env.gateway.address, CAPABILITY)
        assert info.value.details["field"] == "sender_nonce"
        assert ledger.balance_wei(env.gateway.address, CAPABILITY) == expected_credit(params, 5)
    finally:
        ledger.close()
        env.ledger = Ledger(env.tmp_path / "orchestrator" / "ledger.db")


async def test_restart_keeps_pending_winners(certain_env: Env) -> None:
    env = certain_env
    params = await env.params()
    await env.receive(env.sender.batch(params, PRICE, 2).payment)
    pending = env.ledger.pending_winners()
    assert len(pending) == 2
    env.ledger.close()
    env.ledger = Ledger(env.tmp_path / "orchestrator" / "ledger.db")
    assert env.ledger.pending_winners() == pending


async def test_debit_reduces_balance_and_can_go_negative(env: Env) -> None:
    params = await env.params()
    await env.receive(env.sender.batch(params, PRICE, 2).payment)
    credit = expected_credit(params, 2)
    assert env.ledger.debit(env.gateway.address, CAPABILITY, 1_000) == credit - 1_000
    assert env.balance() == credit - 1_000
    assert env.ledger.debit(env.gateway.address, CAPABILITY, credit + 5_000) == -6_000
    assert env.balance() == -6_000
    assert env.ledger.debit(env.intruder.address, CAPABILITY, 7) == -7
    assert env.balance(env.intruder.address) == -7
    await env.receive(env.sender.batch(params, PRICE, 1).payment)
    assert env.balance() == (3 * params.face_value * params.win_prob) // MAX_UINT256 - (
        credit + 6_000
    )


def test_ledger_secret_is_created_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    try:
        assert ledger.secret("k", b"first") == b"first"
        assert ledger.secret("k", b"second") == b"first"
    finally:
        ledger.close()
    reopened = Ledger(tmp_path / "l.db")
    try:
        assert reopened.secret("k", b"third") == b"first"
    finally:
        reopened.close()


async def test_unfunded_or_unlocking_senders_get_no_params_and_no_credit(env: Env) -> None:
    params = await env.params()
    payment = env.sender.batch(params, PRICE, 2).payment
    empty = SenderInfo(
        deposit=0, withdraw_round=0, reserve_funds_remaining=0, reserve_claimed_in_current_round=0
    )
    unlocking = empty.model_copy(update={"deposit": 10**18, "withdraw_round": env.chain.round + 1})
    for funds in (empty, unlocking):
        env.chain.senders[env.gateway.address] = funds
        fresh = TicketRecipient(
            ORCHESTRATOR.address, env.ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
        )  # no cache
        with pytest.raises(InsufficientSenderReserve):
            await fresh.ticket_params(env.gateway.address, PRICE)
        with pytest.raises(BadPayment) as refused:
            await fresh.receive(payment, env.gateway.address, CAPABILITY)
        assert refused.value.details["field"] == "sender"
        assert env.balance() == 0


def funds(reserve: int) -> SenderInfo:
    return SenderInfo(
        deposit=10**18,
        withdraw_round=0,
        reserve_funds_remaining=reserve,
        reserve_claimed_in_current_round=0,
    )


async def test_face_value_is_capped_by_the_max_float(env: Env) -> None:
    """Max float is the sender's reserve this orchestrator can claim, whatever its deposit."""
    small = FACE_VALUE // 2
    env.chain.senders[env.gateway.address] = funds(small)
    params = await env.params()
    assert params.face_value == small
    env.chain.senders[env.gateway.address] = funds(EV - 1)
    fresh = TicketRecipient(
        ORCHESTRATOR.address, env.ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
    )
    with pytest.raises(InsufficientSenderReserve, match="insufficient sender reserve"):
        await fresh.ticket_params(env.gateway.address, PRICE)


# --- face value from the gas price -------------------------------------------------------------


def test_face_value_follows_go_livepeer() -> None:
    policy = TicketPolicy(ev_wei=8_000_000_000)
    gas = 10_000_000  # 0.01 gwei: txCost = 1.2e13, face value = 100 x txCost
    assert face_value_for(policy, gas, max_float=10**18) == 1_200_000_000_000_000
    # Capped by what the sender's funds back, and by the operator's own cap.
    assert face_value_for(policy, gas, max_float=10**15) == 10**15
    capped = TicketPolicy(ev_wei=8_000_000_000, max_face_value_wei=10**14)
    assert face_value_for(capped, gas, max_float=10**18) == 10**14
    # A tiny gas price: face value = EV x 100 rather than below the EV.
    assert face_value_for(policy, 1, max_float=10**18) == 800_000_000_000
    # A fixed face value (the devnet's) is kept.
    fixed = TicketPolicy(ev_wei=5, face_value_wei=5)
    assert face_value_for(fixed, gas, max_float=10**18) == 5


def test_face_value_refuses_when_funds_cannot_cover_redemption() -> None:
    policy = TicketPolicy(ev_wei=8_000_000_000)
    with pytest.raises(InsufficientSenderReserve):
        face_value_for(policy, 10_000_000, max_float=8_000_000_000 - 1)  # below the EV
    with pytest.raises(InsufficientSenderReserve):
        # above the EV, but below both the tx cost and redeemGas x 3 gwei
        face_value_for(policy, 10**10, max_float=10**13)


async def test_used_nonces_are_purged_once_their_params_expire(env: Env) -> None:
    old = await env.params()
    await env.receive(env.sender.batch(old, PRICE, 3).payment)
    env.chain.advance(old.expiration_block - env.chain.block)  # `old` expires now
    fresh = await env.params()
    await env.receive(env.sender.batch(fresh, PRICE, 2).payment)
    with env.ledger.transaction() as db:
        rows = db.execute("SELECT recipient_rand_hash, nonce FROM used_nonces").fetchall()
    assert sorted((bytes(h), n) for h, n in rows) == [
        (fresh.recipient_rand_hash, 1),
        (fresh.recipient_rand_hash, 2),
    ]
    with pytest.raises(BadPayment, match="expired"):  # and the old params stay refused
        await env.receive(env.sender.batch(old, PRICE, 1).payment)


async def test_a_face_value_above_the_current_max_float_is_refused(env: Env) -> None:
    """Params issued while the reserve was larger are refused once it has shrunk."""
    params = await env.params()
    payment = env.sender.batch(params, PRICE, 2).payment
    env.chain.senders[env.gateway.address] = funds(params.face_value - 1)
    fresh = TicketRecipient(
        ORCHESTRATOR.address, env.ledger, env.chain, LOTTERY, chain_read_ttl_seconds=0
    )
    with pytest.raises(BadPayment, match="above the sender's max float") as refused:
        await fresh.receive(payment, env.gateway.address, CAPABILITY)
    assert refused.value.details["field"] == "face_value"
    assert env.balance() == 0


def test_max_float_subtracts_pending_redemptions_when_the_deposit_is_thin() -> None:
    assert max_float_for(reserve_alloc=1000, deposit=10**6, pending=0) == 1000
    assert max_float_for(reserve_alloc=1000, deposit=300, pending=100) == 1000  # 3x covered
    assert max_float_for(reserve_alloc=1000, deposit=299, pending=100) == 900
    assert max_float_for(reserve_alloc=50, deposit=0, pending=100) == 0


async def test_pending_redemptions_lower_the_face_value(tmp_path: Path) -> None:
    chain = InMemoryChainView()
    gateway = Account.create()
    chain.senders[gateway.address] = SenderInfo(
        deposit=0, withdraw_round=0, reserve_funds_remaining=FACE_VALUE,
        reserve_claimed_in_current_round=0,
    )  # fmt: skip

    async def pending(sender: str) -> int:
        return FACE_VALUE // 4 if sender == gateway.address else 0

    recipient = TicketRecipient(
        ORCHESTRATOR.address, Ledger(tmp_path / "l.db"), chain, LOTTERY, pending
    )
    params = await recipient.ticket_params(gateway.address, PRICE)
    assert params.face_value == FACE_VALUE - FACE_VALUE // 4
