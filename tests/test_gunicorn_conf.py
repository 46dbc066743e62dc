"""gunicorn.conf.py: the production layout `gunicorn itsm.wsgi` runs by default."""

import runpy
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
SETTINGS = ("bind", "workers", "worker_class", "threads", "timeout", "keepalive")
FORWARDING = ("forwarded_allow_ips", "secure_scheme_headers")


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    for name in ("GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = runpy.run_path(str(CONF))
    config = Config()
    for name in (*SETTINGS, *FORWARDING):
        config.set(name, namespace[name])  # gunicorn's own validation
    return config


def test_gunicorn_conf_runs_threaded_workers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _load(monkeypatch, GUNICORN_BIND="0.0.0.0:9000", WEB_CONCURRENCY="3")
    assert config.worker_class_str == "gthread"
    assert config.threads > 1
    assert config.workers == 3
    assert config.bind == ["0.0.0.0:9000"]
    assert "post_worker_init" in runpy.run_path(str(CONF))


def test_gunicorn_conf_trusts_no_forwarded_header_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _load(monkeypatch)
    assert config.forwarded_allow_ips == []
    assert config.secure_scheme_headers == {}
    assert config.bind == ["127.0.0.1:8000"]


def test_gunicorn_conf_trusts_forwarded_proto_from_trusted_proxies_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _load(monkeypatch, TRUSTED_PROXIES="10.0.0.1/24, 192.0.2.9")
    assert config.forwarded_allow_ips == ["10.0.0.0/24", "192.0.2.9/32"]
    assert config.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}
