"""`tollway chain`: a sender's TicketBroker funds and a delegator's stake, from the command line.

Addresses and keys default to the running stack's (`.tollway/stack.json`): the gateway's key for
sender commands, the deployer's (the devnet's LPT holder) for stake commands. Options shared by
all commands come first: `tollway chain --as orchestrator claim`, or `--keystore` with
`--password-file` for any key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from tollway.chain.addresses import ContractAddresses
from tollway.chain.client import ChainClient
from tollway.config import KeySettings
from tollway.devnet.anvil import dev_account_key
from tollway.devnet.state import StackState
from tollway.errors import TollwayError
from tollway.payments.keys import load_key

__all__ = [
    "Amount",
    "Options",
    "Role",
    "StackDir",
    "app",
    "bond",
    "cancel_unlock",
    "claim",
    "fund_deposit",
    "fund_reserve",
    "options",
    "parse_amount",
    "sender_info",
    "status",
    "unbond",
    "unlock",
    "withdraw",
    "withdraw_stake",
]

app = typer.Typer(help="TicketBroker funds, bonding and earnings on the stack's chain.")
console = Console()
T = TypeVar("T")


class Role(StrEnum):
    GATEWAY = "gateway"
    ORCHESTRATOR = "orchestrator"
    DEPLOYER = "deployer"


StackDir = Annotated[Path | None, typer.Option("--dir", help="The stack [default: .tollway]")]
Amount = Annotated[str, typer.Argument(help="wei, or a decimal with 'eth' / 'lpt' (1e18).")]


def parse_amount(text: str) -> int:
    """`1000` (wei), `0.5eth` or `200lpt` (units of 1e18) as an integer."""
    value = text.strip().lower()
    scale = 1
    for unit in ("eth", "lpt"):
        if value.endswith(unit):
            value, scale = value[: -len(unit)].strip(), 10**18
    try:
        amount = Decimal(value) * scale
    except InvalidOperation as exc:
        raise typer.BadParameter(f"not an amount: {text!r}") from exc
    if amount < 0 or amount != amount.to_integral_value():
        raise typer.BadParameter(f"not a whole, non-negative number of wei: {text!r}")
    return int(amount)


def _state(directory: Path | None) -> StackState:
    path = (directory or Path(os.environ.get("TOLLWAY_HOME", ".tollway"))).resolve()
    state = StackState.load(path)
    if state is None:
        raise typer.BadParameter(f"no stack recorded in {path}: run `tollway up` first")
    return state


def _key(state: StackState, role: Role, keystore: Path | None, password: Path | None) -> bytes:
    if keystore is not None:
        if password is None:
            raise typer.BadParameter("--keystore needs --password-file")
        return load_key(KeySettings(keystore=keystore, password_file=password))[0]
    if role is Role.DEPLOYER:
        return dev_account_key(0)
    directory = Path(state.directory) / role.value
    files = KeySettings(
        keystore=directory / "keystore.json", password_file=directory / "keystore.password"
    )
    return load_key(files)[0]


def _run(state: StackState, work: Callable[[ChainClient], Awaitable[T]]) -> T:
    contracts = ContractAddresses.model_validate(state.contracts)

    async def go() -> T:
        async with ChainClient(state.endpoints.chain_rpc, contracts) as chain:
            return await work(chain)

    try:
        return asyncio.run(go())
    except TollwayError as exc:
        console.print(f"[red]{type(exc).__name__}:[/] {exc.message}")
        raise typer.Exit(1) from exc


def _show(data: dict[str, Any]) -> None:
    console.print_json(data=data)


@dataclass
class Options:
    """The options every `tollway chain` command shares (given before the command)."""

    directory: Path | None
    role: Role | None
    keystore: Path | None
    password_file: Path | None

    def state(self) -> StackState:
        return _state(self.directory)

    def key(self, default: Role) -> bytes:
        return _key(self.state(), self.role or default, self.keystore, self.password_file)


@app.callback()
def options(
    ctx: typer.Context,
    directory: StackDir = None,
    role: Annotated[
        Role | None,
        typer.Option(
            "--as", help="Whose key signs [default: gateway for funds, deployer for stake]"
        ),
    ] = None,
    keystore: Annotated[Path | None, typer.Option(help="A keystore file instead of --as.")] = None,
    password_file: Annotated[Path | None, typer.Option(help="The keystore's password.")] = None,
) -> None:
    ctx.obj = Options(directory, role, keystore, password_file)


def _send(
    ctx: typer.Context,
    default: Role,
    what: str,
    call: Callable[[ChainClient, bytes], Awaitable[Any]],
) -> None:
    opts: Options = ctx.obj
    key = opts.key(default)
    result = _run(opts.state(), lambda chain: call(chain, key))
    console.print(f"[green]✓[/] {what}: {result}")


# ---- sender (gateway) -----------------------------------------------------------------------


@app.command("sender-info")
def sender_info(
    ctx: typer.Context, address: Annotated[str | None, typer.Argument()] = None
) -> None:
    """Deposit, reserve and unlock state of a sender (default: the stack's gateway)."""
    state = ctx.obj.state()
    who = address or state.gateway_address

    async def read(chain: ChainClient) -> dict[str, Any]:
        info = await chain.broker.sender_info(who)
        return {"sender": who, "round": await chain.rounds.current_round(), **info.model_dump()}

    _show(_run(state, read))


@app.command("fund-deposit")
def fund_deposit(ctx: typer.Context, amount: Amount) -> None:
    """Add to the TicketBroker deposit (cancels a pending unlock)."""
    wei = parse_amount(amount)
    _send(ctx, Role.GATEWAY, "fundDeposit", lambda chain, key: chain.broker.fund_deposit(key, wei))


@app.command("fund-reserve")
def fund_reserve(ctx: typer.Context, amount: Amount) -> None:
    """Add to the TicketBroker reserve."""
    wei = parse_amount(amount)
    _send(ctx, Role.GATEWAY, "fundReserve", lambda chain, key: chain.broker.fund_reserve(key, wei))


@app.command()
def unlock(ctx: typer.Context) -> None:
    """Start the unlock period; orchestrators stop accepting this sender's tickets."""
    _send(ctx, Role.GATEWAY, "unlock", lambda chain, key: chain.broker.unlock(key))


@app.command("cancel-unlock")
def cancel_unlock(ctx: typer.Context) -> None:
    """Cancel a pending unlock."""
    _send(ctx, Role.GATEWAY, "cancelUnlock", lambda chain, key: chain.broker.cancel_unlock(key))


@app.command()
def withdraw(ctx: typer.Context) -> None:
    """Withdraw deposit and remaining reserve once the unlock period is over."""
    _send(ctx, Role.GATEWAY, "withdraw", lambda chain, key: chain.broker.withdraw(key))


# ---- delegator ------------------------------------------------------------------------------


@app.command()
def bond(
    ctx: typer.Context,
    amount: Amount,
    to: Annotated[str | None, typer.Option(help="Delegate [default: the orchestrator]")] = None,
) -> None:
    """Approve and bond LPT to an orchestrator."""
    wei, delegate = parse_amount(amount), to or ctx.obj.state().orchestrator_address

    async def bond_to(chain: ChainClient, key: bytes) -> str:
        bonding = await chain.contract("BondingManager")
        await chain.token.approve(key, bonding.address, wei)
        return await chain.bonding.bond(key, wei, delegate)

    _send(ctx, Role.DEPLOYER, f"bonded to {delegate}", bond_to)


@app.command()
def unbond(ctx: typer.Context, amount: Amount) -> None:
    """Unbond LPT; it can be withdrawn after the unbonding period (see the lock printed)."""
    wei = parse_amount(amount)
    _send(ctx, Role.DEPLOYER, "unbonded", lambda chain, key: chain.bonding.unbond(key, wei))


@app.command("withdraw-stake")
def withdraw_stake(ctx: typer.Context, lock_id: int) -> None:
    """Withdraw unbonded LPT from an unbonding lock."""
    _send(
        ctx, Role.DEPLOYER, "withdrawStake", lambda c, key: c.bonding.withdraw_stake(key, lock_id)
    )


@app.command()
def claim(ctx: typer.Context) -> None:
    """Claim reward and fee earnings up to the current round."""
    _send(ctx, Role.DEPLOYER, "claimEarnings", lambda chain, key: chain.bonding.claim_earnings(key))


@app.command()
def status(ctx: typer.Context, address: Annotated[str | None, typer.Argument()] = None) -> None:
    """Stake, pending rewards and fees of a delegator (default: the stack's orchestrator)."""
    state = ctx.obj.state()
    who = address or state.orchestrator_address

    async def read(chain: ChainClient) -> dict[str, Any]:
        delegator = await chain.bonding.delegator(who)
        transcoder = await chain.bonding.transcoder(delegator.delegate_address or who)
        return {
            "address": who,
            "round": await chain.rounds.current_round(),
            "lpt_balance": await chain.token.balance(who),
            "pending_stake": await chain.bonding.pending_stake(who),
            "pending_fees": await chain.bonding.pending_fees(who),
            "delegator": delegator.model_dump(),
            "transcoder": transcoder.model_dump(),
        }

    _show(_run(state, read))
