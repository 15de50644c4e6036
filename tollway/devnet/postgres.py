"""A PostgreSQL server of its own for the embedded stack and the tests: Debian's `postgresql`
binaries, a fresh cluster in a directory, listening on 127.0.0.1 only, stopped by its PID.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and its
commands run through `runuser`, and the directory's parents must let that user in (`/tmp` does,
pytest's own temporary directory does not).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tollway.errors import ConfigurationError

__all__ = ["PostgresServer", "postgres_bin"]

DATABASE = "tollway"
START_TIMEOUT_SECONDS = 30.0


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    if not found:
        raise ConfigurationError(
            "PostgreSQL is not installed (apt-get install postgresql; scripts/setup.sh does it)"
        )
    return Path(found[-1]).parent


def _major(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


@dataclass
class PostgresServer:
    directory: Path
    port: int
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self._user}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def _user(self) -> str:
        return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def start(self) -> str:
        """Make the cluster (first time), start the server and its `tollway` database; its URL."""
        bin_dir = postgres_bin()
        data = self.directory / "data"
        sockets = self.directory / "sockets"
        log = self.directory / "postgres.log"
        if not data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            data.mkdir()
            sockets.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres")
                for path in (data, sockets):
                    shutil.chown(path, "postgres")
            self._run(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", self._user, "-A", "trust",
                 "--no-sync", "-E", "UTF8"]
            )  # fmt: skip
        self._run(
            [str(bin_dir / "pg_ctl"), "start", "-w", "-t", str(int(START_TIMEOUT_SECONDS)),
             "-D", str(data), "-l", str(log),
             "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sockets} -c fsync=off"]
        )  # fmt: skip
        self.pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        created = self._run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self._user,
             DATABASE],
            check=False,
        )  # fmt: skip
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise ConfigurationError(f"createdb failed: {created.stderr.strip()}")
        return self.url

    def stop(self) -> None:
        """Stop the server by its PID (a fast shutdown), waiting until it is gone."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise ConfigurationError(
                f"{Path(argv[0]).name} failed: {(done.stderr or done.stdout).strip()}"
            )
        return done
