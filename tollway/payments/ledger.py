"""The orchestrator's durable payment state in SQLite: credit, used nonces, winning tickets,
quotes and secrets; only this module writes its tables.

Credit is kept exactly: in units of 1/(2^256-1) wei, so a ticket's EV (faceValue x winProb) adds
as an integer and nothing is rounded until a balance is read. Each payment is applied in one
transaction, so a restart loses no credit and a replayed nonce is refused even after a crash.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tollway.errors import BadPayment
from tollway.protocol.ticket import MAX_UINT256

__all__ = ["Balance", "ChargedJob", "JobPayment", "Ledger", "NonceUse"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credit (
    sender TEXT NOT NULL, capability TEXT NOT NULL, units TEXT NOT NULL,
    PRIMARY KEY (sender, capability));
CREATE TABLE IF NOT EXISTS received (
    sender TEXT NOT NULL, capability TEXT NOT NULL, units TEXT NOT NULL,
    PRIMARY KEY (sender, capability));
CREATE TABLE IF NOT EXISTS used_nonces (
    recipient_rand_hash BLOB NOT NULL, nonce INTEGER NOT NULL, expiration_block INTEGER NOT NULL,
    PRIMARY KEY (recipient_rand_hash, nonce));
CREATE INDEX IF NOT EXISTS used_nonces_expiry ON used_nonces (expiration_block);
CREATE TABLE IF NOT EXISTS winning_tickets (
    ticket_hash TEXT PRIMARY KEY, body TEXT NOT NULL, handed_off INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS quotes (sender TEXT, capability TEXT, price_wei TEXT NOT NULL,
    expires_at REAL NOT NULL, PRIMARY KEY (sender, capability));
CREATE TABLE IF NOT EXISTS charged_jobs (sender TEXT NOT NULL, job_id TEXT NOT NULL,
    outcome TEXT NOT NULL, body BLOB NOT NULL, charged_at REAL NOT NULL,
    PRIMARY KEY (sender, job_id));
CREATE INDEX IF NOT EXISTS charged_jobs_age ON charged_jobs (charged_at);
CREATE TABLE IF NOT EXISTS job_payments (sender TEXT NOT NULL, job_id TEXT NOT NULL,
    digest TEXT NOT NULL, paid_at REAL NOT NULL, PRIMARY KEY (sender, job_id, digest));
CREATE INDEX IF NOT EXISTS job_payments_age ON job_payments (paid_at);
"""


@dataclass(frozen=True)
class Balance:
    """A sender's credit for one capability, and the EV it ever paid for it, in whole wei."""

    sender: str
    capability: str
    balance_wei: int
    received_wei: int


@dataclass(frozen=True)
class ChargedJob:
    """A job id's answer, kept with its charge so that a retry of the job is answered again
    rather than run and charged again. `outcome` is the serving side's own JSON."""

    job_id: str
    outcome: str
    body: bytes


@dataclass(frozen=True)
class JobPayment:
    """A payment (by digest) that came with a job id: sent again with a retry of that job (the
    orchestrator restarted before answering), it was paid already and is not refused as a
    replay. Kept for as long as the job's answer; older ones are forgotten."""

    job_id: str
    digest: str
    forget_before: float


@dataclass(frozen=True)
class NonceUse:
    """The nonces a payment spends under one set of ticket params (by recipientRandHash)."""

    recipient_rand_hash: bytes
    expiration_block: int
    nonces: list[int]
    max_per_params: int


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def secret(self, key: str, make: bytes) -> bytes:
        """A stored secret, created from `make` on first use (stable across restarts)."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            if row:
                return bytes(row[0])
            db.execute("INSERT INTO kv (key, value) VALUES (?, ?)", (key, make))
            return make

    @staticmethod
    def units(db: sqlite3.Connection, sender: str, capability: str) -> int:
        row = db.execute(
            "SELECT units FROM credit WHERE sender = ? AND capability = ?", (sender, capability)
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def add_units(db: sqlite3.Connection, sender: str, capability: str, delta: int) -> int:
        total = Ledger.units(db, sender, capability) + delta
        db.execute(
            "INSERT INTO credit (sender, capability, units) VALUES (?, ?, ?) "
            "ON CONFLICT (sender, capability) DO UPDATE SET units = excluded.units",
            (sender, capability, str(total)),
        )
        return total

    def balance_wei(self, sender: str, capability: str) -> int:
        """Credit floored to whole wei (negative when work outran payment)."""
        with self.transaction() as db:
            return self.units(db, sender, capability) // MAX_UINT256

    def received_wei(self, sender: str, capability: str) -> int:
        """The EV of every ticket ever credited from `sender` for `capability`, floored to wei."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT units FROM received WHERE sender = ? AND capability = ?",
                (sender, capability),
            ).fetchone()
        return int(row[0]) // MAX_UINT256 if row else 0

    def balances(self) -> list[Balance]:
        """Every sender's credit by capability (for the operator's console), by sender."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT credit.sender, credit.capability, credit.units, received.units "
                "FROM credit LEFT JOIN received USING (sender, capability) "
                "ORDER BY credit.sender, credit.capability"
            ).fetchall()
        return [
            Balance(sender, capability, int(units) // MAX_UINT256, int(paid or 0) // MAX_UINT256)
            for sender, capability, units, paid in rows
        ]

    def debit(
        self,
        sender: str,
        capability: str,
        wei: int,
        job: ChargedJob | None = None,
        forget_before: float = 0.0,
    ) -> int:
        """Charge `wei`; with `job`, keep its answer in the same transaction (a job id is charged
        once) and forget answers charged before `forget_before`. Returns the balance in wei."""
        with self.transaction() as db:
            balance = self.add_units(db, sender, capability, -wei * MAX_UINT256) // MAX_UINT256
            if job is not None:
                db.execute("DELETE FROM charged_jobs WHERE charged_at < ?", (forget_before,))
                db.execute(
                    "INSERT OR REPLACE INTO charged_jobs VALUES (?, ?, ?, ?, ?)",
                    (sender, job.job_id, job.outcome, job.body, time.time()),
                )
            return balance

    def charged_job(self, sender: str, job_id: str, since: float) -> ChargedJob | None:
        """The answer kept for `sender`'s job `job_id`, if it was charged at `since` or later."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT outcome, body FROM charged_jobs "
                "WHERE sender = ? AND job_id = ? AND charged_at >= ?",
                (sender, job_id, since),
            ).fetchone()
        return None if row is None else ChargedJob(job_id, str(row[0]), bytes(row[1]))

    def credit_payment(
        self,
        sender: str,
        capability: str,
        units: int,
        nonces: NonceUse,
        winners: list[tuple[str, str]],
        expired_below: int,
        job: JobPayment | None = None,
    ) -> None:
        """Apply a validated payment all or nothing: spend its nonces (BadPayment on a replay),
        credit `units`, keep its winning tickets (hash, body) for redemption, and remember it as
        `job`'s payment. Nonces of params expired by block `expired_below` are forgotten: those
        params are refused anyway."""
        with self.transaction() as db:
            db.execute("DELETE FROM used_nonces WHERE expiration_block <= ?", (expired_below,))
            _use_nonces(db, nonces)
            self.add_units(db, sender, capability, units)
            row = db.execute(
                "SELECT units FROM received WHERE sender = ? AND capability = ?",
                (sender, capability),
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO received VALUES (?, ?, ?)",
                (sender, capability, str(int(row[0]) + units if row else units)),
            )
            db.executemany(
                "INSERT OR IGNORE INTO winning_tickets (ticket_hash, body) VALUES (?, ?)", winners
            )
            if job is not None:
                db.execute("DELETE FROM job_payments WHERE paid_at < ?", (job.forget_before,))
                db.execute(
                    "INSERT OR IGNORE INTO job_payments VALUES (?, ?, ?, ?)",
                    (sender, job.job_id, job.digest, time.time()),
                )

    def paid_for_job(self, sender: str, job: JobPayment) -> bool:
        """True when this very payment was credited with `sender`'s job `job.job_id`."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT 1 FROM job_payments WHERE sender = ? AND job_id = ? AND digest = ? "
                "AND paid_at >= ?",
                (sender, job.job_id, job.digest, job.forget_before),
            ).fetchone()
        return row is not None

    def pending_winners(self) -> list[tuple[str, str]]:
        with self.transaction() as db:
            rows = db.execute(
                "SELECT ticket_hash, body FROM winning_tickets WHERE handed_off = 0"
            ).fetchall()
        return [(str(h), str(b)) for h, b in rows]

    def save_quote(self, sender: str, capability: str, price_wei: int, expires_at: float) -> None:
        """Remember the latest price quoted to `sender`, to honour it until it expires."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO quotes VALUES (?, ?, ?, ?)",
                (sender.lower(), capability, str(price_wei), expires_at),
            )

    def quoted_price(self, sender: str, capability: str, now: float) -> int | None:
        """The price last quoted to `sender` for `capability`, while that quote holds."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT price_wei FROM quotes WHERE sender = ? AND capability = ? "
                "AND expires_at > ?",
                (sender.lower(), capability, now),
            ).fetchone()
        return None if row is None else int(row[0])

    def winners(self, ticket_hashes: list[str]) -> list[str]:
        """The stored bodies of these winning tickets (those the ledger knows)."""
        with self.transaction() as db:
            return [
                str(row[0])
                for ticket_hash in ticket_hashes
                for row in db.execute(
                    "SELECT body FROM winning_tickets WHERE ticket_hash = ?", (ticket_hash,)
                )
            ]

    def mark_handed_off(self, ticket_hash: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE winning_tickets SET handed_off = 1 WHERE ticket_hash = ?", (ticket_hash,)
            )


def _use_nonces(db: sqlite3.Connection, use: NonceUse) -> None:
    if len(set(use.nonces)) != len(use.nonces):
        raise BadPayment("payment repeats a nonce", field="sender_nonce")
    used = db.execute(
        "SELECT COUNT(*) FROM used_nonces WHERE recipient_rand_hash = ?", (use.recipient_rand_hash,)
    ).fetchone()[0]
    if used + len(use.nonces) > use.max_per_params:
        raise BadPayment(
            f"more than {use.max_per_params} nonces for one set of params", field="sender_nonce"
        )
    for nonce in use.nonces:
        try:
            db.execute(
                "INSERT INTO used_nonces (recipient_rand_hash, nonce, expiration_block) "
                "VALUES (?, ?, ?)",
                (use.recipient_rand_hash, nonce, use.expiration_block),
            )
        except sqlite3.IntegrityError as exc:
            raise BadPayment(
                f"ticket nonce {nonce} was already used (replay)", field="sender_nonce"
            ) from exc
