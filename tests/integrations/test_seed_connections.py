import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Connection

pytestmark = pytest.mark.django_db

TENANT = "00000000-0000-0000-0000-000000000001"


def _write(tmp_path: Path, entries: object) -> str:
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(entries))
    return str(path)


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_connections", *args, stdout=out)
    return out.getvalue()


def test_seed_connections_creates_with_contract_defaults(tmp_path: Path) -> None:
    out = _seed(
        _write(tmp_path, [{"slug": "contoso", "tenant_id": TENANT, "audiences": ["api://x"]}])
    )
    assert "created   contoso" in out
    c = Connection.objects.get(slug="contoso")
    assert c.name == "contoso"
    assert c.allowed_app_ids == ["461e8683-5575-4561-ac7f-899cc907d62a"]
    assert c.required_role == "ActionGroupsSecureWebhook"
    assert (c.jwks_uri, c.allowed_subscriptions, c.enabled) == (None, [], True)
    assert c.effective_jwks_uri == (
        f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    )


def test_seed_connections_rerun_updates_or_leaves_unchanged(tmp_path: Path) -> None:
    entry = {"slug": "contoso", "tenant_id": TENANT.upper(), "audiences": ["api://x"]}
    _seed(_write(tmp_path, [entry]))
    assert "unchanged contoso" in _seed(_write(tmp_path, [entry]))
    entry.update(enabled=False, required_role=None, name="Contoso")
    assert "updated   contoso" in _seed(_write(tmp_path, [entry]))
    c = Connection.objects.get()
    assert (c.enabled, c.required_role, c.name, c.tenant_id) == (False, None, "Contoso", TENANT)


def test_seed_connections_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"slug": "s", "tenant_id": TENANT, "audiences": ["a"]}]
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(entries)))
    assert "1 created" in _seed("-")
    assert Connection.objects.filter(slug="s").exists()


def test_seed_connections_dry_run_saves_nothing(tmp_path: Path) -> None:
    out = _seed(
        _write(tmp_path, [{"slug": "c", "tenant_id": TENANT, "audiences": ["a"]}]), "--dry-run"
    )
    assert "Dry run" in out
    assert not Connection.objects.exists()


def test_seed_connections_reports_every_invalid_field_and_saves_nothing(tmp_path: Path) -> None:
    entries = [
        {"slug": "good", "tenant_id": TENANT, "audiences": ["a"]},
        {
            "slug": "bad slug",
            "tenant_id": "not-a-guid",
            "audiences": [],
            "allowed_app_ids": ["x"],
            "jwks_uri": "http://keys.example.com/jwks",
            "allowed_subscriptions": "all",
            "enabled": "yes",
            "colour": "blue",
        },
        {"slug": "good", "tenant_id": TENANT, "audiences": ["a"]},
    ]
    with pytest.raises(CommandError) as exc:
        _seed(_write(tmp_path, entries))
    message = str(exc.value)
    for expected in (
        "entry 2 (bad slug): slug:",
        "entry 2 (bad slug): tenant_id: 'not-a-guid' is not a GUID",
        "entry 2 (bad slug): audiences:",
        "entry 2 (bad slug): allowed_app_ids",
        "entry 2 (bad slug): jwks_uri: must be an https URL",
        "entry 2 (bad slug): allowed_subscriptions",
        "entry 2 (bad slug): enabled: must be true or false",
        "entry 2 (bad slug): colour: is not a connection field",
        "entry 3 (good): slug: repeats entry 1",
    ):
        assert expected in message
    assert not Connection.objects.exists()


def test_seed_connections_accepts_loopback_http_key_sets(tmp_path: Path) -> None:
    entry = {
        "slug": "dev",
        "tenant_id": TENANT,
        "audiences": ["a"],
        "jwks_uri": "http://127.0.0.1:9/k",
    }
    _seed(_write(tmp_path, [entry]))
    assert Connection.objects.get().jwks_uri == "http://127.0.0.1:9/k"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"slug": "x"}', "must hold a JSON list")],
)
def test_seed_connections_refuses_unreadable_files(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        _seed(str(path))


def test_seed_connections_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        _seed(str(tmp_path / "nope.json"))
