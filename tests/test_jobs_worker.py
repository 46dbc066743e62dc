"""Real worker processes (`manage.py run_worker`) on PostgreSQL: once, periodic, recovery.

Each worker is the run_worker command in its own process against the test database.
It is started through a short prelude that registers this file's probe jobs first
(tests are not an installed app, so the worker would not find them by itself).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection

from core import jobs
from tests.helpers import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if db_connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: workers are separate processes there")


@jobs.job("tests.worker.record")
def record(*, path: str, tag: str) -> None:
    """Append `tag` and this worker's process id to `path`, slowly enough to share work."""
    time.sleep(0.2)
    with open(path, "a") as f:
        f.write(f"{tag} {os.getpid()}\n")


@jobs.job("tests.worker.hang_first", attempts=3)
def hang_first(*, path: str) -> None:
    """The first run marks `path`.started and hangs (to be killed); a later run finishes."""
    started = Path(f"{path}.started")
    if not started.exists():
        started.write_text(str(os.getpid()))
        time.sleep(300)
    Path(path).write_text(str(os.getpid()))


WORKER = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from core import jobs
    import tests.test_jobs_worker  # the probe jobs

    periodic_out = os.environ.get("PROBE_PERIODIC_OUT")
    if periodic_out:
        @jobs.periodic("* * * * * *", name="tests.worker.every_second")
        def every_second(*, scheduled_at):
            with open(periodic_out, "a") as f:
                f.write(f"{scheduled_at.isoformat()} {os.getpid()}\\n")

    from django.core.management import call_command
    call_command("run_worker", *sys.argv[1:])
    """
)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    settings_dict = db_connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@"
        f"{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    started: list[subprocess.Popen] = []
    logs: list[Any] = []

    def start(*args: str, **env: str) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115
        logs.append(log)
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", WORKER, *args],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "itsm.settings_test",
                "ITSM_DOTENV_PATH": "",
                "DATABASE_URL": url,
                "JOBS_POLL_SECONDS": "0.5",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(worker)
        return worker

    yield start
    # Gracefully, so their database sessions end before the test database is dropped.
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
    for worker in started:
        try:
            worker.wait(timeout=40)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    for log in logs:
        log.close()


def _workers_registered(count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM procrastinate_workers")
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.1)
    pytest.fail(f"{count} workers did not start")


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_two_workers_run_each_job_once_and_stop_on_sigterm(
    start_worker: Callable[..., subprocess.Popen], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    periodic_out = tmp_path / "periodic"
    workers = [
        start_worker("--concurrency", "2", PROBE_PERIODIC_OUT=str(periodic_out)) for _ in range(2)
    ]
    _workers_registered(2)
    for n in range(20):
        jobs.enqueue("tests.worker.record", path=str(out), tag=f"job{n}")
    assert _wait_for(lambda: len(_lines(out)) >= 20, 30)
    time.sleep(1.5)  # anything run twice would show up by now
    lines = [line.split() for line in _lines(out)]
    assert Counter(tag for tag, _ in lines) == Counter(f"job{n}" for n in range(20))
    assert {int(pid) for _, pid in lines} == {w.pid for w in workers}  # both took work
    assert {j.status for j in jobs.jobs_for("tests.worker.record")} == {"succeeded"}
    # One run per due second of the periodic job, whichever worker took it.
    due = [line.split()[0] for line in _lines(periodic_out)]
    assert due
    assert len(due) == len(set(due))
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert [w.wait(timeout=40) for w in workers] == [0, 0]


def test_worker_killed_mid_job_the_job_is_recovered_and_runs(
    start_worker: Callable[..., subprocess.Popen], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    workers = {}
    for _ in range(2):
        worker = start_worker(JOBS_STALLED_AFTER_SECONDS="2")
        workers[worker.pid] = worker
    _workers_registered(2)
    jobs.enqueue("tests.worker.hang_first", path=str(out))
    started = Path(f"{out}.started")
    assert _wait_for(started.exists, 30)
    assert _wait_for(lambda: started.read_text() != "", 5)
    victim = int(started.read_text())
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait(timeout=10)
    # The survivor sees the dead worker's heartbeat go stale (2 s), then the recovery
    # (every 10 s) puts the job back.
    assert _wait_for(out.exists, 45), "the stalled job was not recovered"
    [survivor] = [pid for pid in workers if pid != victim]
    assert int(out.read_text()) == survivor
    assert _wait_for(
        lambda: [j.status for j in jobs.jobs_for("tests.worker.hang_first")] == ["succeeded"], 10
    )
    [done] = jobs.jobs_for("tests.worker.hang_first")
    assert done.attempts == 2
