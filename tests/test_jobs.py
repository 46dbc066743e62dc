"""core.jobs, the facade over the job engine: on SQLite (in memory) and PostgreSQL alike.

The jobs here write to files, not to the database: the worker runs them on its own
threads (and, on PostgreSQL, takes them through its own connections), so the tests are
transactional and every enqueue is committed before a worker looks.
"""

import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from core import jobs
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


@jobs.job("tests.jobs.record")
def record(*, path: str, tag: str) -> None:
    """Append `tag` and this process's id to `path` (one line per run)."""
    with open(path, "a") as f:
        f.write(f"{tag} {os.getpid()}\n")


@jobs.job("tests.jobs.flaky", attempts=5, backoff_seconds=0)
def flaky(*, path: str, failures: int) -> None:
    """Fail the first `failures` runs, then succeed; one line per run."""
    runs = len(_lines(path)) + 1
    record(path=path, tag=f"run{runs}")
    if runs <= failures:
        raise RuntimeError(f"failure {runs}")


@jobs.job("tests.jobs.always_fails", attempts=3, backoff_seconds=0)
def always_fails(*, path: str) -> None:
    record(path=path, tag="run")
    raise RuntimeError("always")


@jobs.job("tests.jobs.fails_slowly", attempts=3, backoff_seconds=60)
def fails_slowly(*, path: str) -> None:
    record(path=path, tag="run")
    raise RuntimeError("always")


def _lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def _drain() -> None:
    jobs.run_worker(wait=False, install_signal_handlers=False)


def _statuses(name: str, path: Path) -> list[str]:
    return [j.status for j in jobs.jobs_for(name) if j.kwargs.get("path") == str(path)]


def test_enqueue_runs_the_job_once_after_commit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with transaction.atomic():
        jobs.enqueue("tests.jobs.record", path=str(out), tag="a")
    _drain()
    _drain()
    assert [line.split()[0] for line in _lines(out)] == ["a"]
    assert _statuses("tests.jobs.record", out) == ["succeeded"]


def test_enqueue_in_rolled_back_transaction_enqueues_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def change_that_fails() -> None:
        with transaction.atomic():
            jobs.enqueue("tests.jobs.record", path=str(out), tag="a")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    _drain()
    assert _lines(out) == []
    assert _statuses("tests.jobs.record", out) == []


def test_enqueue_same_key_while_pending_gives_one_job(tmp_path: Path) -> None:
    out = tmp_path / "out"
    key = f"record:{tmp_path.name}"
    with transaction.atomic():
        jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="first")
        jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="second")
    # In its own transaction too; and the caller's transaction stays usable.
    with transaction.atomic():
        jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="third")
        jobs.enqueue("tests.jobs.record", path=str(out), tag="no-key")
    _drain()
    assert sorted(line.split()[0] for line in _lines(out)) == ["first", "no-key"]
    # Once the job has run, the key is free again.
    jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="later")
    _drain()
    assert _lines(out)[-1].split()[0] == "later"


def test_enqueue_run_after_waits_until_then(tmp_path: Path) -> None:
    out = tmp_path / "out"
    due = datetime.now(tz=UTC) + timedelta(seconds=1.5)
    jobs.enqueue("tests.jobs.record", run_after=due, path=str(out), tag="a")
    _drain()
    assert _lines(out) == []
    [pending] = [j for j in jobs.jobs_for("tests.jobs.record") if j.kwargs["path"] == str(out)]
    assert pending.status == "todo"
    assert pending.run_after == due
    time.sleep(max(0.0, (due - datetime.now(tz=UTC)).total_seconds()) + 0.1)
    _drain()
    assert len(_lines(out)) == 1


def test_enqueue_rejects_unknown_name_and_naive_time() -> None:
    with pytest.raises(LookupError):
        jobs.enqueue("tests.jobs.nope")
    with pytest.raises(ValueError, match="aware"):
        jobs.enqueue("tests.jobs.record", run_after=datetime(2030, 1, 1), path="x", tag="a")  # noqa: DTZ001


def test_job_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        jobs.job("tests.jobs.record")(record)


def test_failing_job_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.flaky", path=str(out), failures=2)
    _drain()
    assert [line.split()[0] for line in _lines(out)] == ["run1", "run2", "run3"]
    [done] = [j for j in jobs.jobs_for("tests.jobs.flaky") if j.kwargs["path"] == str(out)]
    assert (done.status, done.attempts) == ("succeeded", 3)


def test_failing_job_gives_up_after_its_attempts_and_stays_failed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.always_fails", path=str(out))
    _drain()
    _drain()
    assert len(_lines(out)) == 3
    [failed] = [j for j in jobs.jobs_for("tests.jobs.always_fails") if j.kwargs["path"] == str(out)]
    assert (failed.status, failed.attempts) == ("failed", 3)


def test_failing_job_retry_waits_with_exponential_backoff(tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.fails_slowly", path=str(out))
    before = datetime.now(tz=UTC)
    _drain()
    assert len(_lines(out)) == 1  # the retry is not due yet
    [waiting] = [
        j for j in jobs.jobs_for("tests.jobs.fails_slowly") if j.kwargs["path"] == str(out)
    ]
    assert waiting.status == "todo"
    assert waiting.run_after is not None
    assert timedelta(seconds=59) <= waiting.run_after - before <= timedelta(seconds=62)


def test_backoff_doubles_and_is_capped() -> None:
    backoff = jobs._Backoff(attempts=20, backoff_seconds=10)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff.delay(15) == 3600


# The web process on SQLite: `itsm.wsgi` starts the in-process worker, which runs enqueued
# and periodic jobs on a thread.
WEB_PROCESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import django
    django.setup()
    from core import jobs
    import tests.test_jobs  # the jobs above

    out = Path(sys.argv[1])

    @jobs.periodic("* * * * * *", name="tests.jobs.every_second")
    def every_second(*, scheduled_at):
        with open(out.with_suffix(".periodic"), "a") as f:
            f.write(scheduled_at.isoformat() + "\\n")

    import itsm.wsgi  # starts the in-process worker (SQLite)

    jobs.enqueue("tests.jobs.record", path=str(out), tag="from-web")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if out.exists() and out.with_suffix(".periodic").exists():
            break
        time.sleep(0.1)
    """
)


@pytest.mark.django_db(transaction=False)
def test_sqlite_web_process_runs_jobs_in_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "itsm.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "JOBS_POLL_SECONDS": "0.2",
    }
    subprocess.run(  # noqa: S603
        [sys.executable, "-c", WEB_PROCESS, str(out)], cwd=ROOT, env=env, check=True, timeout=60
    )
    assert [line.split()[0] for line in _lines(out)] == ["from-web"]
    assert _lines(out.with_suffix(".periodic"))


def test_run_worker_on_sqlite_says_jobs_run_in_the_web_process(capsys: Any) -> None:
    from django.core.management import call_command

    if jobs.durable():
        pytest.skip("SQLite only")
    call_command("run_worker")
    assert "inside the web process" in capsys.readouterr().out


@jobs.job("tests.jobs.once", attempts=1)
def once(*, path: str) -> None:
    record(path=path, tag="once")


def _postgres_only() -> None:
    if not jobs.durable():
        pytest.skip("PostgreSQL only: stalled jobs need workers with heartbeats")


def _stall(name: str, path: Path) -> int:
    """Make the waiting job of `name` look taken by a worker that went silent an hour ago."""
    from django.db import connection

    [job] = [j for j in jobs.jobs_for(name) if j.kwargs["path"] == str(path)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '1 hour') RETURNING id"
        )
        worker_id = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
            [worker_id, job.id],
        )
    return job.id


def _run_engine_job(name: str) -> None:
    jobs._get_app().configure_task(name).defer(timestamp=int(time.time()))
    jobs.run_worker(wait=False, queues=["engine"], install_signal_handlers=False)


def test_recover_stalled_puts_back_the_job_of_a_lost_worker(tmp_path: Path) -> None:
    _postgres_only()
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.record", path=str(out), tag="a")
    _stall("tests.jobs.record", out)
    _run_engine_job("jobs.recover_stalled")
    assert _statuses("tests.jobs.record", out) == ["todo"]
    _drain()
    assert [line.split()[0] for line in _lines(out)] == ["a"]
    assert _statuses("tests.jobs.record", out) == ["succeeded"]


def test_recover_stalled_fails_a_lost_job_that_used_its_attempts(tmp_path: Path) -> None:
    _postgres_only()
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.once", path=str(out))
    _stall("tests.jobs.once", out)
    _run_engine_job("jobs.recover_stalled")
    assert _lines(out) == []
    assert _statuses("tests.jobs.once", out) == ["failed"]


def test_recover_stalled_fails_a_lost_job_when_a_newer_one_with_its_key_waits(
    tmp_path: Path,
) -> None:
    _postgres_only()
    out = tmp_path / "out"
    key = f"record:{tmp_path.name}"
    jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="old")
    stalled = _stall("tests.jobs.record", out)
    jobs.enqueue("tests.jobs.record", key=key, path=str(out), tag="new")
    _run_engine_job("jobs.recover_stalled")
    by_id = {j.id: j.status for j in jobs.jobs_for("tests.jobs.record")}
    assert by_id[stalled] == "failed"
    _drain()
    assert [line.split()[0] for line in _lines(out)] == ["new"]


def test_prune_finished_deletes_jobs_past_the_retention(tmp_path: Path, settings: Any) -> None:
    _postgres_only()
    from django.db import connection

    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.record", path=str(out), tag="a")
    _drain()
    [done] = [j for j in jobs.jobs_for("tests.jobs.record") if j.kwargs["path"] == str(out)]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = at - interval '30 days' WHERE job_id = %s",
            [done.id],
        )
    settings.JOBS_RETENTION_DAYS = 14
    _run_engine_job("jobs.prune_finished")
    assert _statuses("tests.jobs.record", out) == []


def test_run_worker_command_burst_runs_due_jobs(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    _postgres_only()
    out = tmp_path / "out"
    jobs.enqueue("tests.jobs.record", path=str(out), tag="a")
    call_command("run_worker", "--burst", "--concurrency", "2")
    assert len(_lines(out)) == 1
    with pytest.raises(CommandError, match="concurrency"):
        call_command("run_worker", "--concurrency", "0")
