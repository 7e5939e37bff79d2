"""The fault-injection harness: a real PostgreSQL and a real Redis started here on spare loopback ports, a real SMTP
sink that can refuse or hang, and the Procfile's processes (rq workers, the clock) as real subprocesses — so that a
test can kill -9 a work horse, restart Redis empty or PostgreSQL mid-mail, and then check what a user would: every
e-mail delivered exactly once, every document done or failed, every due deadline applied once at its due instant.

Everything is bounded in time (`wait_for` raises after its timeout) and listens on 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INJECT = Path(__file__).resolve().parent / "inject"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin)")


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class Postgres:
    """A throw-away cluster: initdb in a temporary directory, trust on loopback, fsync off."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chorus-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True, timeout=120)
        self.start()
        subprocess.run(_as_postgres([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                     "-U", "postgres", "chorus"]), check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/chorus"

    @property
    def env_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/chorus"

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]), check=True,
                       capture_output=True, timeout=timeout)

    def start(self) -> None:
        # fsync off: a crash here is the server process's, never the machine's, so what was written to the OS
        # survives it. synchronous_commit stays ON: with it off, `stop -m immediate` loses commits the server had
        # already acknowledged (an e-mail's `sent_at`), a loss no production PostgreSQL inflicts and no
        # application can guard against — the soak counted such lost acknowledgements as duplicates.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=on -c full_page_writes=off")
        self._ctl("-l", str(self.dir / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 2.0) -> None:
        self.stop("immediate")  # as a crash: connections cut, nothing flushed politely
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        try:
            self.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A Redis without persistence: killed, it comes back empty (the worst case: every queued job lost)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from redis import Redis

        wait_for(lambda: _pings(Redis.from_url(self.url, socket_connect_timeout=0.5)), 20, "Redis to start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.kill()


def _pings(connection) -> bool:
    try:
        return bool(connection.ping())
    except Exception:
        return False


class Sink:
    """A real SMTP server (aiosmtpd) on loopback. `mode`: "accept", "refuse" (451 to every message) or "hang"
    (answers nothing to DATA for `hang_seconds`, then 451: the client has long given up). Only an accepted message
    counts as delivered."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mode = "accept"
        self.hang_seconds = 8.0
        self.delay = 0.0  # seconds before accepting (a slow server: keeps mails "in flight")
        self.on_accept = None  # called once a message is accepted, before the « 250 » goes back (a fault at that instant)
        self.delivered: list[tuple[str, float]] = []  # (Message-ID, when)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.mode == "refuse":
                    return "451 4.3.0 Service momentanément indisponible"
                if sink.mode == "hang":
                    await asyncio.sleep(sink.hang_seconds)
                    return "451 4.3.0 Trop tard"
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                message = message_from_bytes(envelope.content)
                sink.delivered.append((message["Message-ID"], time.monotonic()))
                if sink.on_accept is not None:
                    sink.on_accept()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def counts(self) -> Counter:
        return Counter(message_id for message_id, _ in self.delivered)

    def close(self) -> None:
        self.controller.stop()


class Processes:
    """The Procfile's processes as subprocesses, with the environment a deployment would give them, under a
    supervisor that restarts one that exits (as Heroku or systemd's Restart=always do: an rq worker exits when it
    loses Redis, and must be started again)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []
        self.specs: dict[int, tuple[str, list[str], dict[str, str] | None]] = {}
        self.restarts = 0
        self.logs = Path(tempfile.mkdtemp(prefix="chorus-faults-logs-"))
        self._serial = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _spawn(self, name: str, command: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        self._serial += 1
        log = open(self.logs / f"{self._serial:02d}-{name}.log", "wb")
        process = subprocess.Popen(command, cwd=ROOT, env={**self.env, **(extra_env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        with self._lock:
            self.running.append(process)
            self.specs[process.pid] = (name, command, extra_env)
        return process

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                exited = [p for p in self.running if p.poll() is not None and p.pid in self.specs]
                for process in exited:
                    self.running.remove(process)
            for process in exited:
                name, command, extra_env = self.specs.pop(process.pid)
                self.restarts += 1
                self._spawn(name, command, extra_env)

    def worker(self, *queues: str, slow_render: float = 0.0) -> subprocess.Popen:
        extra = {}
        if slow_render:  # tests/faults/inject/sitecustomize.py makes each PDF take this long (a window to kill it)
            extra = {"PYTHONPATH": str(INJECT), "CHORUS_FAULT_RENDER_DELAY": str(slow_render)}
        return self._spawn("worker", [str(BIN / "rq"), "worker", "--worker-class",
                                      "chorus_chain.jobs.worker.PreloadedWorker", "--url", self.env["REDIS_URL"],
                                      *queues], extra)

    def clock(self, interval: float = 1.0) -> subprocess.Popen:
        return self._spawn("clock", [str(BIN / "flask"), "--app", "app:app", "deadlines", "clock", "--interval",
                                     str(interval)])

    def stop(self, process: subprocess.Popen) -> None:
        with self._lock:
            self.specs.pop(process.pid, None)  # stopped on purpose: not restarted
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def close(self) -> None:
        with self._lock:
            running = list(self.running)
            self.specs.clear()
            self.running.clear()
        for process in running:
            try:
                self.stop(process)
            except Exception:
                pass

    def shutdown(self) -> None:
        self._stop.set()
        self.close()

    def tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


def children(pid: int) -> list[int]:
    """The direct children of a process (an rq worker's work horse), from /proc."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


class Stack:
    """A whole stack of its own: PostgreSQL, Redis and an SMTP sink on spare ports, the application migrated on it,
    and the Procfile's processes (started by the caller) sharing one environment. Used by the fault suite and by
    bench/jobs_soak.py, which differ only in their timings."""

    def __init__(self, *, secret: str, backoff_max: float, max_attempts: int, lease: int, stall: int,
                 config: dict | None = None) -> None:
        self.postgres, self.redis, self.sink = Postgres(), RedisServer(), Sink()
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
            "SECRET_KEY": secret, "DATABASE_URL": self.postgres.env_url, "REDIS_URL": self.redis.url,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.sink.port), "SMTP_STARTTLS": "0", "SMTP_TIMEOUT": "2",
            "OUTBOX_BACKOFF_SECONDS": "0.5", "OUTBOX_BACKOFF_MAX": f"{backoff_max:g}",
            "OUTBOX_MAX_ATTEMPTS": str(max_attempts), "OUTBOX_LEASE_SECONDS": str(lease),
            "DOCUMENT_STALL_SECONDS": str(stall), "JOB_DB_RETRY_SECONDS": "20", "CLOCK_INTERVAL_SECONDS": "1",
            "BASE_URL": "http://localhost",
        }
        from flask_migrate import upgrade

        from chorus_chain import create_app

        self.app = create_app({
            "TESTING": True, "SQLALCHEMY_DATABASE_URI": self.postgres.url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}, "REDIS_URL": self.redis.url,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.sink.port, "SMTP_STARTTLS": False, "SMTP_TIMEOUT": 2,
            "OUTBOX_BACKOFF_SECONDS": 0.5, "OUTBOX_BACKOFF_MAX": backoff_max, "OUTBOX_MAX_ATTEMPTS": max_attempts,
            "OUTBOX_LEASE_SECONDS": lease, "DOCUMENT_STALL_SECONDS": stall, "JOB_DB_RETRY_SECONDS": 20,
            "SERVER_NAME": "localhost",
            "BASE_URL": "http://localhost", "RATELIMIT_STORAGE_URI": "memory://", **(config or {}),
        })
        with self.app.app_context():
            upgrade()
        self.processes = Processes(env)

    def close(self) -> None:
        self.processes.shutdown()
        from chorus_chain.extensions import db

        with self.app.app_context():
            db.engine.dispose()
        self.sink.close()
        self.redis.close()
        self.postgres.close()
