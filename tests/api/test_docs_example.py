"""docs/api.md's worked example, run as written against a live server with a token."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer
from rest_framework.authtoken.models import Token

from incidents.models import Incident
from tests.helpers import ADMIN, RESOURCE_HEALTH, VM_ID, fire, make_user

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _example() -> str:
    text = DOC.read_text()
    block = re.search(
        r"<!-- worked-example:start -->\n```python\n(.*?)```\n<!-- worked-example:end -->",
        text,
        re.DOTALL,
    )
    assert block, "docs/api.md lost its worked example"
    return block.group(1)


# Stateless alerts: several Resource Health alerts of one VM would join one incident.


def test_the_worked_example_takes_and_resolves_the_oldest_open_p1(
    live_server: LiveServer, post_alert: Any, connection: Any, tmp_path: Path
) -> None:
    other_vm = VM_ID.replace("test-VM", "other-vm")
    oldest = fire(post_alert, ADMIN, "/ex/1", severity="Sev0")
    newer = fire(post_alert, ADMIN, "/ex/2", severity="Sev0")
    fire(post_alert, ADMIN, "/ex/3", severity="Sev2")  # P3: not for us
    fire(
        post_alert,
        RESOURCE_HEALTH,
        "/ex/4",
        severity="Sev0",
        alertTargetIDs=[other_vm],
        configurationItems=["other-vm"],
    )
    Incident.objects.filter(number=newer).update(opened_at="2030-01-01T00:00:00Z")
    user = make_user("operator", "olga")
    script = tmp_path / "take_p1.py"
    script.write_text(_example())

    result = subprocess.run(  # noqa: S603 - our own example script
        [sys.executable, str(script)],
        env={
            **os.environ,
            "ITSM_URL": live_server.url,
            "ITSM_USER": "olga",
            "ITSM_TOKEN": Token.objects.create(user=user).key,
            "VM_RESOURCE_ID": VM_ID.upper(),  # case does not matter
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"2 open P1 incident(s) on {VM_ID.upper()}",
        f"{oldest}: resolved, assigned to olga",
    ]
    incident = Incident.objects.get(number=oldest)
    assert (incident.state, incident.resolution_code, incident.assigned_to) == (
        "resolved",
        "solved",
        user,
    )
    kinds = list(incident.journal.order_by("pk").values_list("kind", "actor_name"))
    assert kinds == [
        ("opened", "Azure Monitor"),
        ("assigned", "olga"),
        ("state_changed", "olga"),
        ("work_note", "olga"),
        ("state_changed", "olga"),
    ]
    assert Incident.objects.get(number=newer).state == "new"
