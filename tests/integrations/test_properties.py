"""Property tests: whatever arrives, the webhook answers 2xx or 4xx, never 5xx or a traceback,
and nothing changes without a valid token."""

import contextlib
import copy
import itertools
import json
import operator
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from incidents.models import Incident
from integrations.choices import DeliveryOutcome
from integrations.models import Alert, Delivery
from tests.helpers import ALERTS_MANAGEMENT, FIXTURES, load_fixture, make_token

STATIC = load_fixture("azure/platform-metric-static-threshold-fired.json")
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ESSENTIAL_KEYS = list(STATIC["data"]["essentials"])
NOW = int(time.time())


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(body=st.binary(max_size=2048))
def test_any_bytes_get_a_4xx_or_2xx(connection: Any, post_alert: Any, body: bytes) -> None:
    assert post_alert(body).status_code in (200, 201, 400, 415)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(key=st.sampled_from(ESSENTIAL_KEYS), value=json_values)
def test_any_essential_value_gets_a_4xx_or_2xx(
    connection: Any, post_alert: Any, key: str, value: Any
) -> None:
    payload = copy.deepcopy(STATIC)
    payload["data"]["essentials"][key] = value
    response = post_alert(payload)
    assert response.status_code in (200, 201, 400), response.content
    assert response.json()


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(
    path=st.lists(st.sampled_from(["data", "essentials", "alertContext", "x"]), max_size=3),
    value=json_values,
)
def test_any_structure_gets_a_4xx_or_2xx(
    connection: Any, post_alert: Any, path: list[str], value: Any
) -> None:
    payload: Any = copy.deepcopy(STATIC)
    node = payload
    for step in path[:-1]:
        if not isinstance(node, dict):
            break
        node = node.setdefault(step, {})
    if isinstance(node, dict) and path:
        node[path[-1]] = value
    elif not path:
        payload = value
    assert post_alert(json.dumps(payload)).status_code in (200, 201, 400)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_mutated_token_never_changes_anything(
    connection: Any, post_alert: Any, signing_key: Any, data: st.DataObject
) -> None:
    # The same token in every example (fixed claims; RS256 signatures are deterministic).
    token = make_token(signing_key, uti="fixed", iat=NOW, nbf=NOW, exp=NOW + 3600)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii", exclude_characters=token[position]))
    mutated = token[:position] + replacement + token[position + 1 :]
    before = (Incident.objects.count(), Alert.objects.count(), Delivery.objects.count())
    response = post_alert(STATIC, token=mutated)
    # Base64url ignores some trailing bits: a mutation there may leave the token valid.
    if response.status_code in (200, 201):
        assert response.json()["status"] in ("created", "duplicate")
        return
    # A changed `kid` names a key the tenant may have just published: 503 until a refetch.
    assert response.status_code in (400, 401, 403, 503), response.content
    if response.status_code == 503:
        assert response.json()["code"] == "signing_keys_unavailable"
    assert (Incident.objects.count(), Alert.objects.count(), Delivery.objects.count()) == before


# --- the whole ingest, with a valid token, on real payloads made hostile ---------------------
# Runs on SQLite and on PostgreSQL (DATABASE_URL): PostgreSQL is the strict one (no lone
# surrogates in text, ~2700-byte index rows, varchar lengths). Any authenticated body gets
# 200, 201 or 400, never a 5xx, and never 202 (that would mean the database refused it).

SAMPLES = [
    load_fixture(str(path.relative_to(FIXTURES)))
    for path in sorted((FIXTURES / "azure").glob("*.json"))
    if not path.name.startswith("legacy-")
] + [load_fixture("azure/third-party/prometheus-fired.json")]
# JSON text that no Python value serialises to: it is spliced into the body as sent.
RAW_JSON = [
    "9" * 5000,
    "-" + "9" * 5000,
    "1" * 101,
    "1e999",
    "-1E400",
    "1e-400",
    "-0.0",
    '"\\ud800"',
    '"x\\udfff y"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '{"\\ud800": 1}',
    '"\\u0000"',
    '"\\\\u0000"',
    "[" * 3000 + "]" * 3000,
    "[" * 500 + "]" * 500,
]
EDGE_DATES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T14:00:00+14:00",
    "9999-12-31T23:59:59.9999999Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31 23:59:59-0001",
    "0000-01-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2025-04-15T24:00:00Z",
]
FORGERIES = ["\n2026-01-01 00:00:00,000 INFO forged", "a\r\nb", "\u2028", "\x1b[31m", "\x85"]


class Raw:
    """A JSON fragment to splice into the body as is."""

    def __init__(self, text: str) -> None:
        self.text = text


every_character = st.characters(exclude_categories=())  # lone surrogates too
short_text = st.text(every_character, max_size=30)
long_text = st.builds(
    operator.mul, st.text(every_character, min_size=1, max_size=3), st.integers(1, 1100)
)
hostile_text = st.one_of(
    short_text,
    long_text,
    st.builds(
        operator.add,
        st.sampled_from(["/", "/subscriptions/s/", ALERTS_MANAGEMENT, "/providers/"]),
        short_text | long_text,
    ),
    st.sampled_from(EDGE_DATES + FORGERIES + ["Fired", "Resolved", "Sev0", "", " "]),
)
hostile_values = st.one_of(
    hostile_text,
    st.builds(Raw, st.sampled_from(RAW_JSON)),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(hostile_text, max_size=4),
    json_values,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a payload (keys and list indexes)."""
    paths = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            paths += _paths(value, (*prefix, i))
    return paths


SAMPLE_PATHS = [_paths(sample) for sample in SAMPLES]
ESSENTIALS = [
    ("data", "essentials", key)
    for key in sorted({k for sample in SAMPLES for k in sample["data"]["essentials"]})
]
_unique = itertools.count()


def _encode(payload: Any, *, ascii_only: bool) -> bytes:
    raws: list[str] = []

    def splice(value: Any) -> str:
        raws.append(value.text)
        return f"@@raw{len(raws) - 1}@@"

    text = json.dumps(payload, default=splice, ensure_ascii=ascii_only)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@raw{i}@@"', raw, 1)
    # Unescaped lone surrogates become bytes that are not UTF-8.
    return text.encode("utf-8", errors="surrogatepass")


def _mutate(payload: Any, path: tuple, action: str, value: Any) -> Any:
    if not path:
        return value
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add-key" and isinstance(parent, dict):
        parent[str(value)[:40] if not isinstance(value, str) else value] = value
    else:
        parent[last] = value
    return payload


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """A published sample with a fresh alertId, then one to three hostile changes."""
    index = draw(st.integers(0, len(SAMPLES) - 1))
    payload = copy.deepcopy(SAMPLES[index])
    essentials = payload["data"]["essentials"]
    essentials["alertId"] = f"{essentials['alertId']}-{next(_unique)}"
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ESSENTIALS) | st.sampled_from(SAMPLE_PATHS[index]))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add-key"]))
        value = draw(hostile_values)
        # An earlier change may have removed or replaced what the path leads to.
        with contextlib.suppress(KeyError, IndexError, TypeError):
            payload = _mutate(payload, path, action, value)
    return _encode(payload, ascii_only=draw(st.booleans()))


@pytest.mark.django_db
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(body=hostile_bodies())
def test_any_authenticated_body_gets_2xx_or_400_and_is_kept(
    connection: Any, post_alert: Any, body: bytes
) -> None:
    before = Delivery.objects.count()

    response = post_alert(body)

    event(f"status {response.status_code}")  # --hypothesis-show-statistics: both paths run
    assert response.status_code in (200, 201, 400), response.content[:500]
    answer = response.json()
    delivery = Delivery.objects.order_by("-pk").first()
    assert Delivery.objects.count() == before + 1
    assert bytes(delivery.body) == body
    if response.status_code == 400:
        assert answer["detail"]
        assert delivery.outcome == DeliveryOutcome.REJECTED
        assert delivery.error == answer["detail"]
    else:
        assert answer["status"] in DeliveryOutcome.values
