"""Fixtures of the notification tests: fresh rule cache, fast retries, real local receivers."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections

from notifications.selectors import notification_rules_cache_clear
from tests.helpers import HttpReceiver, SilentReceiver, SmtpReceiver


@pytest.fixture(autouse=True)
def _notification_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Send at once, retry at once, wait little for an answer; the rule cache read afresh."""
    # The worker runs jobs on threads that end with it: their database connections must
    # close after each job, not linger open past the test (and its database).
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.NOTIFICATION_COALESCE_SECONDS = 0
    settings.NOTIFICATION_RETRY_SECONDS = 0
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_TIMEOUT_SECONDS = 0.5
    settings.ITSM_BASE_URL = "https://itsm.example.test"
    notification_rules_cache_clear()
    yield
    notification_rules_cache_clear()


@pytest.fixture
def receiver() -> Iterator[Callable[..., HttpReceiver]]:
    made: list[HttpReceiver] = []

    def make(*answers: int | tuple[int, str]) -> HttpReceiver:
        made.append(HttpReceiver(*answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def silent_receiver() -> Iterator[SilentReceiver]:
    r = SilentReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp_receiver(settings: Any) -> Iterator[SmtpReceiver]:
    r = SmtpReceiver()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = r.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "itsm@example.test"
    yield r
    r.close()
