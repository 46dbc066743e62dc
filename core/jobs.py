"""Background jobs: our small facade over the job engine (Procrastinate).

Only this module imports procrastinate, so a move to another engine (Django's own tasks
framework, say) changes this file and nothing else. An app declares its jobs in its own
`tasks.py` (found automatically) and enqueues them by name::

    # incidents/tasks.py
    from core import jobs
    from incidents.services import maintenance_window_end

    @jobs.job("incidents.window_end", attempts=5)
    def window_end(*, window_id: int) -> None:
        # Load by id and call the service; nothing else (STYLE.md §14).
        maintenance_window_end(window=MaintenanceWindow.objects.get(pk=window_id))

    # incidents/services.py, inside the transaction that creates the window:
    jobs.enqueue("incidents.window_end", key=f"window-end:{window.pk}",
                 run_after=window.ends_at, window_id=window.pk)

    # a periodic duty; one run per due time, whatever the number of workers:
    @jobs.periodic("*/5 * * * *", name="incidents.auto_resolve")
    def auto_resolve(*, scheduled_at: datetime) -> None: ...

Semantics:
- `enqueue` joins the caller's transaction: on PostgreSQL the job row is written in it
  (a rollback enqueues nothing; a worker sees the job only after commit); on SQLite the
  job is handed over at commit (`transaction.on_commit`).
- `key` is an idempotency key: while a job with that key waits, another enqueue with it
  does nothing (Procrastinate's queueing lock).
- A job that raises is retried with exponential backoff (`backoff_seconds` x 2^n, at
  most an hour apart) until it has run `attempts` times; then it stays `failed`.
- Jobs run at least once: a worker that dies mid-job (heartbeat older than
  JOBS_STALLED_AFTER_SECONDS) has its job run again. Make jobs idempotent.

PostgreSQL is the durable engine: jobs live in the database, workers on any node
(`manage.py run_worker`) take each job once. SQLite (the quick start) has no such queue:
the same jobs run in the web process, in memory (Procrastinate's in-memory connector and
worker on a thread), and are lost when it stops (docs/architecture.md, "Background jobs").
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import procrastinate
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db import connection as db_connection
from django.utils.module_loading import autodiscover_modules
from procrastinate import exceptions as engine_exceptions
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job, Status
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.testing import InMemoryConnector

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_QUEUE = "default"
_MAX_BACKOFF_SECONDS = 3600
# Internal duties of the engine (PostgreSQL only): recovery of stalled jobs and pruning
# of finished ones. Their own queue, so a busy default queue never starves them.
_ENGINE_QUEUE = "engine"
# How long the job counts of a scrape may take on PostgreSQL.
_COUNTS_TIMEOUT_MS = 2000


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    func: Callable[..., Any]
    attempts: int
    backoff_seconds: float
    queue: str
    cron: str | None = None


@dataclasses.dataclass(frozen=True)
class JobInfo:
    """One job as the engine holds it (for checks and tests)."""

    id: int
    name: str
    status: str  # todo, doing, succeeded, failed, cancelled, aborted
    attempts: int
    key: str | None
    run_after: datetime | None
    kwargs: dict[str, Any]


class _Backoff(BaseRetryStrategy):
    """Retry after backoff x 2^n seconds (n = runs so far - 1) until `attempts` runs."""

    def __init__(self, *, attempts: int, backoff_seconds: float) -> None:
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds

    def delay(self, runs: int) -> float:
        """Seconds to wait after the `runs`-th failed run (1-based)."""
        return min(self.backoff_seconds * 2 ** (runs - 1), _MAX_BACKOFF_SECONDS)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        # job.attempts counts the runs before this one.
        runs = job.attempts + 1
        if runs >= self.attempts:
            return None
        return RetryDecision(retry_at=datetime.now(tz=UTC) + timedelta(seconds=self.delay(runs)))


_specs: dict[str, _Spec] = {}
_lock = threading.RLock()
_app: procrastinate.App | None = None
_in_process: _InProcessWorker | None = None


def durable() -> bool:
    """Whether jobs are kept in the database (PostgreSQL) rather than in this process."""
    return db_connection.vendor == "postgresql"


def job(
    name: str,
    *,
    attempts: int = 5,
    backoff_seconds: float = 10,
    queue: str = DEFAULT_QUEUE,
) -> Callable[[F], F]:
    """Register the decorated function as the job `name` (returns it unchanged).

    The function takes keyword arguments that JSON can carry (ids, not objects).
    `attempts` is how many runs in all before the job is left failed.
    """

    def register(func: F) -> F:
        _register(_Spec(name, func, attempts, backoff_seconds, queue))
        return func

    return register


def periodic(
    cron: str,
    *,
    name: str,
    attempts: int = 1,
    queue: str = DEFAULT_QUEUE,
) -> Callable[[F], F]:
    """Register the decorated function as a job run on the `cron` schedule (UTC).

    Each due time gives one job, however many workers run (the engine records which
    times were enqueued). The function is called with `scheduled_at` (the due time,
    aware, UTC). A failed run is not retried by default: the next due time is.
    A 6th cron field gives seconds.
    """

    def register(func: F) -> F:
        _register(_Spec(name, func, attempts, 1, queue, cron=cron))
        return func

    return register


def enqueue(
    name: str, *, key: str | None = None, run_after: datetime | None = None, **kwargs: Any
) -> None:
    """Enqueue the job `name` with `kwargs`, in the caller's transaction.

    `key`: while a job with this key waits, a second enqueue with it does nothing.
    `run_after`: not before this (aware) time. Raises LookupError for an unknown name.
    """
    app = _get_app()
    if name not in _specs:
        raise LookupError(f"No job named {name!r} is registered.")
    if run_after is not None and run_after.tzinfo is None:
        raise ValueError("run_after must be an aware datetime.")
    deferrer = app.configure_task(
        name, allow_unknown=False, queueing_lock=key, schedule_at=run_after
    )
    if durable():
        # A savepoint: a duplicate key is a unique violation, which would otherwise
        # break the caller's transaction on PostgreSQL.
        try:
            with transaction.atomic():
                deferrer.defer(**kwargs)
        except engine_exceptions.AlreadyEnqueued:
            logger.info("job.already_enqueued name=%s key=%s", name, key)
        return
    transaction.on_commit(functools.partial(_defer_in_memory, deferrer, name, key, kwargs))


def jobs_for(name: str) -> list[JobInfo]:
    """The jobs the engine holds for `name`, oldest first."""
    app = _get_app()
    found = app.job_manager.list_jobs(task=name)
    return sorted(
        (
            JobInfo(
                id=j.id or 0,
                name=j.task_name,
                status=j.status or "",
                attempts=j.attempts,
                key=j.queueing_lock,
                run_after=j.scheduled_at,
                kwargs=_json_dict(j.task_kwargs),
            )
            for j in found
        ),
        key=lambda info: info.id,
    )


@dataclasses.dataclass(frozen=True)
class JobCounts:
    """How many jobs the engine holds, by state (for /metrics, core.metrics)."""

    waiting: int  # due, not yet taken by a worker
    scheduled: int  # due later (run_after in the future)
    running: int
    failed: int  # gave up; kept JOBS_RETENTION_DAYS


def job_counts() -> JobCounts:
    """The jobs waiting, scheduled, running and failed.

    On PostgreSQL one query on the engine's table (bounded by a statement timeout, so a
    slow database slows a scrape by at most that); on SQLite this process's queue.
    """
    now = datetime.now(tz=UTC)
    if durable():
        from django.db.models import Count, Q
        from procrastinate.contrib.django.models import ProcrastinateJob

        todo = Q(status=Status.TODO.value)
        due = Q(scheduled_at=None) | Q(scheduled_at__lte=now)
        with transaction.atomic(), db_connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {_COUNTS_TIMEOUT_MS}")
            counts = ProcrastinateJob._default_manager.filter(
                status__in=(Status.TODO.value, Status.DOING.value, Status.FAILED.value)
            ).aggregate(
                waiting=Count("id", filter=todo & due),
                scheduled=Count("id", filter=todo & Q(scheduled_at__gt=now)),
                running=Count("id", filter=Q(status=Status.DOING.value)),
                failed=Count("id", filter=Q(status=Status.FAILED.value)),
            )
        return JobCounts(**counts)
    connector = _get_app().connector
    if not isinstance(connector, InMemoryConnector):
        raise RuntimeError(f"Unexpected job engine connector: {connector!r}")
    # A copy: the in-process worker changes the dict on its own thread.
    rows = list(connector.jobs.values())
    todo_rows = [r for r in rows if r["status"] == Status.TODO.value]
    waiting = sum(1 for r in todo_rows if not r["scheduled_at"] or r["scheduled_at"] <= now)
    return JobCounts(
        waiting=waiting,
        scheduled=len(todo_rows) - waiting,
        running=sum(1 for r in rows if r["status"] == Status.DOING.value),
        failed=sum(1 for r in rows if r["status"] == Status.FAILED.value),
    )


def _json_dict(value: Any) -> dict[str, Any]:
    # Through Django's connection, PostgreSQL's jsonb comes back as text.
    return json.loads(value) if isinstance(value, str) else dict(value)


def run_worker(
    *,
    concurrency: int = 1,
    queues: list[str] | None = None,
    wait: bool = True,
    name: str | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """Run a worker in this process until stopped (SIGTERM, SIGINT), or until idle.

    On PostgreSQL: takes jobs of `queues` (all when None), `concurrency` at a time; on
    SIGTERM it takes no new job and waits up to JOBS_SHUTDOWN_TIMEOUT_SECONDS for the
    running ones (then they are aborted and retried elsewhere). `wait=False` runs what
    is due and returns (also on SQLite, for this process's in-memory jobs).
    """
    app = _get_app()
    stalled = settings.JOBS_STALLED_AFTER_SECONDS
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "queues": queues,
        "wait": wait,
        "name": name or f"{socket.gethostname()}-{os.getpid()}",
        "install_signal_handlers": install_signal_handlers,
        "shutdown_graceful_timeout": settings.JOBS_SHUTDOWN_TIMEOUT_SECONDS,
        "update_heartbeat_interval": max(stalled / 3, 0.5),
        "stalled_worker_timeout": stalled,
        "fetch_job_polling_interval": settings.JOBS_POLL_SECONDS,
    }
    if durable():
        # Django's connection cannot LISTEN or serve an event loop; the worker gets its
        # own psycopg pool on the same database.
        connector = app.connector
        if not isinstance(connector, DjangoConnector):
            raise RuntimeError(f"Unexpected job engine connector: {connector!r}")
        worker_app = app.with_connector(connector.get_worker_connector())
        logger.info(
            "jobs.worker_started name=%s concurrency=%s queues=%s",
            options["name"],
            concurrency,
            ",".join(queues or ["*"]),
        )
        try:
            worker_app.run_worker(**options)
        finally:
            # The periodic deferrer enqueues through Django's connection, on asgiref's
            # one sync thread: close that connection too.
            asyncio.run(sync_to_async(connections.close_all)())
        logger.info("jobs.worker_stopped name=%s", options["name"])
        return
    if _in_process is not None:
        raise RuntimeError("The in-process worker already runs this process's jobs.")
    asyncio.run(_run_in_memory(app, {**options, "listen_notify": False}))


def start_in_process_worker() -> bool:
    """On SQLite, start running jobs on a thread of this (web) process; say if started.

    Called once by the WSGI entry point. On PostgreSQL it does nothing: workers are
    separate processes (`manage.py run_worker`).
    """
    global _in_process
    if durable():
        return False
    with _lock:
        if _in_process is None:
            _in_process = _InProcessWorker(_get_app())
            _in_process.start()
            logger.info("jobs.in_process_worker_started (SQLite: jobs are not durable)")
    return True


def on_app_ready(app: procrastinate.App) -> None:
    """Procrastinate's Django app is ready (PROCRASTINATE_ON_APP_READY): bind our jobs."""
    global _app
    with _lock:
        _bind_engine_jobs(app)
        for spec in _specs.values():
            _bind(app, spec)
        _app = app


# Inside the facade.


def _register(spec: _Spec) -> None:
    with _lock:
        if spec.name in _specs:
            raise ValueError(f"A job named {spec.name!r} is already registered.")
        _specs[spec.name] = spec
        if _app is not None:
            _bind(_app, spec)


def _get_app() -> procrastinate.App:
    global _app
    if _app is not None:
        return _app
    if durable():
        raise RuntimeError(
            "Procrastinate's Django app is not ready: on PostgreSQL, INSTALLED_APPS must "
            "list procrastinate.contrib.django, with PROCRASTINATE_ON_APP_READY set."
        )
    with _lock:
        if _app is None:
            app = procrastinate.App(connector=InMemoryConnector())
            # What procrastinate.contrib.django does on PostgreSQL: import every tasks.py.
            autodiscover_modules("tasks")
            for spec in _specs.values():
                _bind(app, spec)
            _app = app
    return _app


def _bind(app: procrastinate.App, spec: _Spec) -> None:
    strategy = _Backoff(attempts=spec.attempts, backoff_seconds=spec.backoff_seconds)

    def run(context: JobContext, **kwargs: Any) -> None:
        job_row = context.job
        if spec.cron is not None:
            kwargs["scheduled_at"] = datetime.fromtimestamp(kwargs.pop("timestamp"), tz=UTC)
        _fresh_connections()
        try:
            logger.info(
                "job.started name=%s id=%s attempt=%s", spec.name, job_row.id, job_row.attempts + 1
            )
            spec.func(**kwargs)
        except Exception:
            runs = job_row.attempts + 1
            if runs < spec.attempts:
                logger.warning(
                    "job.failed name=%s id=%s attempt=%s retry_in=%ss",
                    spec.name,
                    job_row.id,
                    runs,
                    strategy.delay(runs),
                    exc_info=True,
                )
            else:
                logger.exception(
                    "job.gave_up name=%s id=%s attempts=%s",
                    spec.name,
                    job_row.id,
                    runs,
                )
            raise
        finally:
            # A job runs on one of the engine's threads: its connection is closed after
            # it, so no thread keeps an idle session (a burst worker's would outlive it).
            if not db_connection.in_atomic_block:
                db_connection.close()
        logger.info("job.succeeded name=%s id=%s", spec.name, job_row.id)

    task = app.task(name=spec.name, retry=strategy, queue=spec.queue, pass_context=True)(run)
    if spec.cron is not None:
        # The queueing lock: a run still waiting when the next is due is not doubled.
        # Typed for functions taking the due `timestamp` first; `run` takes it by keyword.
        app.periodic(cron=spec.cron, queueing_lock=spec.name)(cast(Any, task))


def _fresh_connections() -> None:
    # Jobs run on the worker's threads, outside any request: drop connections that are
    # broken or past CONN_MAX_AGE, as Django does around each request. Never inside a
    # transaction (a test's, or a caller's that runs a job inline).
    if not db_connection.in_atomic_block:
        close_old_connections()


def _bind_engine_jobs(app: procrastinate.App) -> None:
    """The engine's own periodic duties on PostgreSQL: recover stalled jobs, prune old ones."""

    @app.periodic(cron="* * * * * */10", queueing_lock="jobs.recover_stalled")
    @app.task(name="jobs.recover_stalled", queue=_ENGINE_QUEUE, pass_context=True)
    async def recover_stalled(context: JobContext, timestamp: int) -> None:
        # A worker that stopped sending heartbeats (killed, host lost) left its jobs
        # "doing": put them back, or fail those that used up their attempts.
        manager = context.app.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.JOBS_STALLED_AFTER_SECONDS
        )
        for stalled_job in stalled:
            if stalled_job.id is None or stalled_job.id == context.job.id:
                continue
            spec = _specs.get(stalled_job.task_name)
            if spec is not None and stalled_job.attempts + 1 >= spec.attempts:
                await _fail_lost(manager, stalled_job, "attempts_used")
                continue
            try:
                await manager.retry_job(stalled_job)
            except engine_exceptions.UniqueViolation:
                # A newer job with the same key (or the next periodic run) already waits.
                await _fail_lost(manager, stalled_job, "newer_job_waits")
                continue
            logger.warning(
                "job.recovered name=%s id=%s reason=worker_lost",
                stalled_job.task_name,
                stalled_job.id,
            )

    @app.periodic(cron="23 * * * *", queueing_lock="jobs.prune_finished")
    @app.task(name="jobs.prune_finished", queue=_ENGINE_QUEUE, pass_context=True)
    async def prune_finished(context: JobContext, timestamp: int) -> None:
        await context.app.job_manager.delete_old_jobs(
            nb_hours=settings.JOBS_RETENTION_DAYS * 24,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )


async def _fail_lost(manager: Any, lost: Job, why: str) -> None:
    await manager.finish_job_by_id_async(
        job_id=lost.id or 0, status=Status.FAILED, delete_job=False
    )
    logger.error("job.gave_up name=%s id=%s reason=worker_lost %s", lost.task_name, lost.id, why)


def _defer_in_memory(deferrer: Any, name: str, key: str | None, kwargs: dict[str, Any]) -> None:
    runner = _in_process
    try:
        if runner is not None and runner.loop is not None:
            # The worker's loop owns the in-memory queue: hand the job over there.
            asyncio.run_coroutine_threadsafe(deferrer.defer_async(**kwargs), runner.loop).result(
                timeout=10
            )
        else:
            deferrer.defer(**kwargs)
    except engine_exceptions.AlreadyEnqueued:
        logger.info("job.already_enqueued name=%s key=%s", name, key)


async def _run_in_memory(app: procrastinate.App, options: dict[str, Any]) -> None:
    async with app.open_async():
        await app.run_worker_async(**options)


class _InProcessWorker(threading.Thread):
    """SQLite only: Procrastinate's worker on a daemon thread, over the in-memory queue."""

    def __init__(self, app: procrastinate.App) -> None:
        super().__init__(name="jobs-in-process", daemon=True)
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ready.set()
        await _run_in_memory(
            self.app,
            {
                "name": f"in-process-{os.getpid()}",
                "install_signal_handlers": False,
                "fetch_job_polling_interval": settings.JOBS_POLL_SECONDS,
                "concurrency": 1,
            },
        )

    def start(self) -> None:
        super().start()
        self.ready.wait(timeout=5)
