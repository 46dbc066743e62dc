"""/metrics under gunicorn: every worker counts into its own file, any worker's scrape
adds them all up (gunicorn.conf.py: PROMETHEUS_MULTIPROC_DIR, on_starting, child_exit)."""

import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ROOT

CONF = ROOT / "gunicorn.conf.py"
VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _conf() -> dict[str, Any]:
    return runpy.run_path(str(CONF))


def test_gunicorn_conf_reading_it_sets_no_metrics_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    _conf()
    assert VARIABLE not in os.environ


def test_gunicorn_conf_makes_a_private_metrics_folder_per_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)  # restored (unset) after the test
    conf = _conf()
    conf["on_starting"](None)
    folder = Path(os.environ[VARIABLE])
    assert folder.is_dir()
    conf["on_exit"](None)
    assert not folder.exists()


def test_gunicorn_conf_empties_the_metrics_folder_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"old counts")
    (folder / "README").write_text("not ours")
    monkeypatch.setenv(VARIABLE, str(folder))
    conf = _conf()
    conf["on_starting"](None)
    assert sorted(p.name for p in folder.iterdir()) == ["README"]
    conf["on_exit"](None)
    assert folder.is_dir()  # the operator's folder stays


def test_gunicorn_conf_child_exit_drops_the_workers_live_gauges(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(VARIABLE, str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    _conf()["child_exit"](None, SimpleNamespace(pid=4242))
    # A dead worker's counts stay in the totals.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, method: str, path: str) -> tuple[int, bytes]:
    raw = (
        f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _deliveries(port: int) -> float:
    status, body = _get(port, "GET", "/metrics")
    assert status == 200, body
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "itsm_webhook_deliveries_total"
    )


@pytest.mark.live
def test_gunicorn_metrics_add_up_every_workers_counts(tmp_path: Path) -> None:
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "metrics-test-" + "s" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "SPOOL_DIR": str(tmp_path / "spool"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "TRUSTED_PROXIES": "",
        "WEBHOOK_AUTH_FAILURES_PER_MINUTE": "100000",
        VARIABLE: str(metrics_dir),
    }
    subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "itsm.wsgi"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _get(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # Unknown connections (404): deliveries the webhook answers without a database
        # row or a token. Until both workers have answered some (a counts file each).
        sent = 0
        while sent < 400 and len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert _get(port, "POST", f"/api/integrations/azure-monitor/nobody-{sent}/")[0] == 404
            sent += 1
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2, "one worker took everything"
        # Whichever worker answers a scrape, it counts every worker's deliveries.
        assert [_deliveries(port) for _ in range(8)] == [float(sent)] * 8
    finally:
        proc.terminate()
        proc.wait(timeout=20)
