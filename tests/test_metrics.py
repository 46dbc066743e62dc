"""GET /metrics (core.metrics): the Prometheus text format, what moves it, who may read it."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from core import jobs, metrics
from tests.helpers import STATIC, AlertPoster, alert_id, with_essentials

TOKEN = "metrics-token-" + "t" * 32


@jobs.job("tests.metrics.noop")
def noop() -> None:
    """A job that does nothing (enqueued to be counted)."""


# Its own queue: the test's worker runs it and nothing else (no other app's jobs).
@jobs.job("tests.metrics.fails", attempts=1, queue="tests-metrics")
def fails() -> None:
    raise RuntimeError("this job always fails")


def scrape(client: Client, **extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of one scrape, by name and sorted labels (the format must parse)."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def spool_dir(settings: Any, tmp_path: Path) -> Path:
    settings.SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.mark.django_db
def test_metrics_view_serves_every_family_in_the_text_format(
    client: Client, spool_dir: Path
) -> None:
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert {"itsm_jobs", "itsm_spool_files", "itsm_metrics_scrape_up"} <= names
    assert value(samples, "itsm_metrics_scrape_up", source="jobs") == 1
    assert value(samples, "itsm_metrics_scrape_up", source="spool") == 1
    body = client.get("/metrics").content.decode()
    assert "# TYPE itsm_webhook_deliveries_total counter" in body
    assert "# TYPE itsm_webhook_duration_seconds histogram" in body


def test_metrics_counts_move_after_deliveries(
    client: Client, connection: Any, post_alert: AlertPoster, spool_dir: Path
) -> None:
    before = scrape(client)
    payload = with_essentials(STATIC, alertId=alert_id())
    assert post_alert(payload).status_code == 201
    assert post_alert(payload).status_code == 200  # the same alert again: a duplicate
    assert post_alert(payload, token="not-a-token").status_code == 401
    assert post_alert(payload, slug="nobody").status_code == 404
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    deliveries = "itsm_webhook_deliveries_total"
    assert moved(deliveries, outcome="created", status="201") == 1
    assert moved(deliveries, outcome="duplicate", status="200") == 1
    assert moved(deliveries, outcome="rejected", status="401") == 1
    assert moved(deliveries, outcome="rejected", status="404") == 1
    assert moved("itsm_webhook_duration_seconds_count", answer="accepted") == 2
    assert moved("itsm_webhook_duration_seconds_count", answer="rejected") == 2
    assert moved("itsm_webhook_duration_seconds_sum", answer="accepted") > 0
    # Cumulative buckets: all within the last one.
    assert moved("itsm_webhook_duration_seconds_bucket", answer="accepted", le="+Inf") == 2


def test_metrics_count_a_webhook_crash_as_failed(
    client: Client,
    connection: Any,
    post_alert: AlertPoster,
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from integrations.api import views

    def crash(**kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "delivery_receive", crash)
    before = scrape(client)
    post_alert.client.raise_request_exception = False
    assert post_alert(with_essentials(STATIC, alertId=alert_id())).status_code == 500
    after = scrape(client)
    name = "itsm_webhook_deliveries_total"
    assert (
        value(after, name, outcome="failed", status="500")
        - value(before, name, outcome="failed", status="500")
        == 1
    )


@pytest.mark.django_db
def test_metrics_spool_depth_counts_waiting_and_failed_files(
    client: Client, spool_dir: Path
) -> None:
    (spool_dir / "failed").mkdir(parents=True)
    for name in ("1.json", "2.json", "3.1234.claimed"):
        (spool_dir / name).write_text("x")
    (spool_dir / "failed" / "0.json").write_text("x")
    samples = scrape(client)
    assert value(samples, "itsm_spool_files", state="waiting") == 2
    assert value(samples, "itsm_spool_files", state="failed") == 1


@pytest.mark.django_db
def test_metrics_jobs_count_waiting_and_scheduled(
    client: Client, spool_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue("tests.metrics.noop")
        jobs.enqueue("tests.metrics.noop", run_after=datetime.now(tz=UTC) + timedelta(hours=1))
    after = scrape(client)
    for state, moved in (("waiting", 1), ("scheduled", 1), ("running", 0), ("failed", 0)):
        delta = value(after, "itsm_jobs", state=state) - value(before, "itsm_jobs", state=state)
        assert delta == moved, state


@pytest.mark.django_db(transaction=True)
def test_metrics_jobs_count_failed(client: Client, spool_dir: Path) -> None:
    before = scrape(client)
    with transaction.atomic():
        jobs.enqueue("tests.metrics.fails")
    assert value(scrape(client), "itsm_jobs", state="waiting") >= 1
    jobs.run_worker(wait=False, queues=["tests-metrics"], install_signal_handlers=False)
    after = scrape(client)
    assert (
        value(after, "itsm_jobs", state="failed") - value(before, "itsm_jobs", state="failed") == 1
    )


@pytest.mark.django_db
def test_metrics_view_queries_only_job_and_notification_counts(
    client: Client, spool_dir: Path
) -> None:
    with CaptureQueriesContext(connection) as queries:
        scrape(client)
    statements = [q["sql"] for q in queries.captured_queries]
    counts = [s for s in statements if "procrastinate_jobs" in s or "notificationattempt" in s]
    other = [s for s in statements if s not in counts]
    # On SQLite the job queue is in this process: only the notifications' count.
    assert len(counts) == (2 if connection.vendor == "postgresql" else 1), statements
    assert all("statement_timeout" in s or "SAVEPOINT" in s for s in other), other


@pytest.mark.django_db
def test_metrics_view_leaves_out_jobs_when_the_database_fails(
    client: Client, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(jobs, "job_counts", down)
    samples = scrape(client)
    assert value(samples, "itsm_metrics_scrape_up", source="jobs") == 0
    assert not any(name == "itsm_jobs" for name, _ in samples)
    assert value(samples, "itsm_metrics_scrape_up", source="spool") == 1


@pytest.mark.django_db
def test_metrics_view_answers_whatever_the_host(client: Client, spool_dir: Path) -> None:
    # Prometheus scrapes each backend by its address, not a name in ALLOWED_HOSTS.
    scrape(client, HTTP_HOST="10.0.0.5:8000")


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_metrics_view_serves_loopback_by_default(
    client: Client, spool_dir: Path, address: str
) -> None:
    scrape(client, REMOTE_ADDR=address)


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["192.0.2.10", "10.1.2.3", "2001:db8::1", "not-an-address"])
def test_metrics_view_refuses_other_addresses(client: Client, address: str) -> None:
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 403
    assert b"itsm_" not in response.content


@pytest.mark.django_db
def test_metrics_view_serves_the_allowed_cidrs(
    client: Client, settings: Any, spool_dir: Path
) -> None:
    settings.METRICS_ALLOWED_CIDRS = ["10.20.0.0/16"]
    scrape(client, REMOTE_ADDR="10.20.30.40")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.21.0.1").status_code == 403


@pytest.mark.django_db
def test_metrics_view_serves_the_token_holder_from_anywhere(
    client: Client, settings: Any, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.METRICS_TOKEN = TOKEN
    far: dict[str, Any] = {"REMOTE_ADDR": "192.0.2.10"}
    with caplog.at_level(logging.DEBUG):
        scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **far)
        assert (
            client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}", **far).status_code == 200
        )
        for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, ""):
            response = client.get("/metrics", HTTP_AUTHORIZATION=wrong, **far)
            assert response.status_code == 403, wrong
    assert TOKEN not in caplog.text
    assert TOKEN[:-1] not in caplog.text


@pytest.mark.django_db
def test_metrics_view_accepts_no_token_when_none_is_set(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    far: dict[str, Any] = {"REMOTE_ADDR": "192.0.2.10"}
    for header in ("Bearer ", "Bearer", "Bearer  "):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header, **far).status_code == 403


@pytest.mark.django_db
def test_metrics_view_sees_the_client_through_trusted_proxies(
    client: Client, settings: Any, spool_dir: Path
) -> None:
    # A proxy on this host: without TRUSTED_PROXIES everyone it forwards would be loopback.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    proxied: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.10", **proxied).status_code == 403
    scrape(client, HTTP_X_FORWARDED_FOR="127.0.0.1", **proxied)
    settings.METRICS_ALLOWED_CIDRS = ["192.0.2.0/24"]
    scrape(client, HTTP_X_FORWARDED_FOR="192.0.2.10", **proxied)
    # A forged header from a client that is not a proxy is not believed.
    forged: dict[str, Any] = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "192.0.2.10"}
    assert client.get("/metrics", **forged).status_code == 403


@pytest.mark.django_db
def test_metrics_view_answers_get_and_head_only(client: Client, spool_dir: Path) -> None:
    assert client.head("/metrics").status_code == 200
    assert client.post("/metrics").status_code == 405


def test_webhook_answered_labels_refusals_by_status_class() -> None:
    name = "itsm_webhook_deliveries_total"

    def count(**labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = (count(outcome="queued", status="202"), count(outcome="failed", status="503"))
    metrics.webhook_answered(status=202, outcome="queued", seconds=0.001)
    metrics.webhook_answered(status=503, outcome=None, seconds=0.001)
    assert count(outcome="queued", status="202") == before[0] + 1
    assert count(outcome="failed", status="503") == before[1] + 1


@pytest.mark.django_db
def test_metrics_notifications_count_the_last_days_failed_tries(
    client: Client, spool_dir: Path
) -> None:
    from django.utils import timezone

    from notifications.choices import AttemptOutcome, ChannelKind
    from notifications.models import NotificationAttempt

    def attempt(number: int, outcome: str, age: timedelta) -> None:
        NotificationAttempt.objects.create(
            message_key="metrics-test",
            number=number,
            channel_name="ops",
            channel_kind=ChannelKind.WEBHOOK,
            event="test",
            outcome=outcome,
            created_at=timezone.now() - age,
        )

    attempt(1, AttemptOutcome.RETRYING, timedelta(minutes=5))
    attempt(2, AttemptOutcome.FAILED, timedelta(minutes=1))
    attempt(3, AttemptOutcome.FAILED, timedelta(days=2))  # older than the window
    attempt(4, AttemptOutcome.SENT, timedelta(minutes=1))
    samples = scrape(client)
    assert value(samples, "itsm_notifications_attempts_24h", outcome="failed") == 1
    assert value(samples, "itsm_notifications_attempts_24h", outcome="retrying") == 1
    assert value(samples, "itsm_metrics_scrape_up", source="notifications") == 1
