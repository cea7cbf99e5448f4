"""Private, killable server processes for fault-injection tests.

The shared MariaDB and Redis of the machine (used by other tests and CI) are never
touched: each session starts its own ``mariadbd`` (fresh datadir) and ``redis-server``
on free loopback ports, and stops, kills and restarts them on the same port and datadir.
A SIGKILLed MariaDB is a real crash: InnoDB must recover committed transactions from its
redo log on the next start (``innodb_flush_log_at_trx_commit=1``, the default).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Proc:
    """One server process that can be started, stopped (SIGTERM) or killed (SIGKILL) and
    started again with the same command line. ``ready`` says when it serves."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        ready: Callable[[], bool],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.ready = ready
        self.env = env
        self.cwd = cwd
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for it to serve."""
        assert not self.running, f"{self.name} already running"
        with self.log.open("ab") as out:
            out.write(f"\n===== start #{self.starts + 1} of {self.name} =====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1

    def wait_ready(self, timeout_s: float | None = None) -> float:
        """Seconds until ``ready()``; raises if the process dies or the time runs out."""
        start = time.monotonic()
        deadline = start + (timeout_s or self.start_timeout_s)
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited early (see {self.log})")
            if self.ready():
                return time.monotonic() - start
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout_s or self.start_timeout_s}s")

    def start(self, timeout_s: float | None = None) -> float:
        """Start and wait until it serves; returns the seconds that took."""
        self.spawn()
        return self.wait_ready(timeout_s)

    def pause(self) -> None:
        """SIGSTOP: the process hangs with its sockets open (a frozen or partitioned host)."""
        assert self.proc is not None and self.running
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, *, kill: bool = False, timeout_s: float = 20.0) -> None:
        """SIGTERM (graceful) or SIGKILL (crash), then reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def redis_server(port: int, log: Path) -> Proc:
    """A throwaway Redis without persistence (a restart comes back empty, like a failover
    to a cold replica)."""
    exe = shutil.which("redis-server") or "redis-server"
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Proc("redis", argv, log, lambda: _redis_ping(port), start_timeout_s=20)


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class MariaDB(Proc):
    """A private ``mariadbd`` on ``port`` with its own datadir under ``root``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.datadir = root / "data"
        exe = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
        argv = [
            exe or "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={port}",
            f"--socket={root / 'mysqld.sock'}",
            f"--pid-file={root / 'mysqld.pid'}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--local-infile=1",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=128M",
            "--innodb-flush-log-at-trx-commit=1",
            "--max-connections=200",
        ]
        super().__init__("mariadb", argv, root / "mariadb.log", self._ping, start_timeout_s=90)

    def install(self) -> None:
        """A fresh system database in the datadir (root without password, TCP)."""
        self.root.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("mariadb-install-db") or "mariadb-install-db"
        with (self.root / "install.log").open("wb") as out:
            subprocess.run(
                [
                    exe,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--user=root",
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def _ping(self) -> bool:
        import pymysql

        try:
            conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1)
        except pymysql.MySQLError:
            return False
        conn.close()
        return True

    def create_database(self, name: str) -> str:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return self.url(name)
