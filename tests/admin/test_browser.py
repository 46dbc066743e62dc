"""The operator's path in a real browser: Azure opens an incident, an operator resolves it.

Chromium (Debian's, headless) drives the console served by a live server. The alert is
posted over real HTTP, signed like Entra ID signs it; the test key set stands in for the
tenant's (the `key_set` fixture patches the key fetch in this process, where the live
server runs). Screenshots of each step go to test-output/browser/.
"""

import io
import json
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from incidents.models import Incident
from incidents.services import incident_assign
from integrations.correlation_rules import correlation_rule_create
from integrations.maintenance import maintenance_window_create
from integrations.models import Connection, Delivery
from tests.factories import AssignmentGroupFactory, UserFactory
from tests.helpers import (
    STATIC,
    FakeKeySet,
    alert_id,
    load_fixture,
    make_token,
    vm_id,
    with_essentials,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
PASSWORD = "a-long-test-password-42"

pytestmark = [
    pytest.mark.live,
    # Serialized rollback: the roles come from a data migration, and earlier transactional
    # tests flush the database.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (apt-get install chromium; CI installs it)",
    ),
]


BrowserScript = Callable[[Page], None]


@pytest.fixture
def in_browser(
    live_server: LiveServer, settings: SettingsWrapper
) -> Callable[[BrowserScript], None]:
    """Run a script against the live server in a fresh headless Chromium page.

    Playwright's sync API runs an asyncio loop in the thread that starts it, and Django
    refuses database work in a thread with a running loop. So the browser lives in a
    thread of its own, and this thread (the test's, pytest-django's) keeps none.
    """
    # The live server speaks plain HTTP; cookies marked Secure would not come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False

    def drive(script: BrowserScript, viewport: dict[str, int]) -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(base_url=live_server.url, viewport=viewport)
                context.set_default_timeout(15_000)
                script(context.new_page())
                context.close()
            finally:
                browser.close()

    def run(script: BrowserScript, width: int = 1680, height: int = 1000) -> None:
        failure: list[BaseException] = []

        def target() -> None:
            try:
                drive(script, {"width": width, "height": height})
            except BaseException as exc:  # re-raised in the test's thread below
                failure.append(exc)

        thread = threading.Thread(target=target, name="browser")
        thread.start()
        thread.join(timeout=180)
        assert not thread.is_alive(), "the browser script did not finish within 180 s"
        if failure:
            raise failure[0]

    return run


@pytest.fixture(scope="module")
def screenshots_folder() -> Path:
    """test-output/browser/, emptied once for the tests of this module."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshots_folder: Path) -> Callable[[Page, str], None]:
    def take(page: Page, name: str, *, full_page: bool = True) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)

    return take


def send_alert(live_server: LiveServer, signing_key: Any) -> dict[str, Any]:
    """POST Microsoft's sample metric alert to the webhook, as an action group does."""
    response = requests.post(
        f"{live_server.url}/api/integrations/azure-monitor/contoso/",
        data=json.dumps(load_fixture("azure/platform-metric-static-threshold-fired.json")),
        headers={
            "Authorization": f"Bearer {make_token(signing_key)}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_operator_finds_takes_and_resolves_the_incident_azure_opened(
    in_browser: Callable[[BrowserScript], None],
    live_server: LiveServer,
    connection: Connection,
    key_set: FakeKeySet,
    signing_key: Any,
    screenshot: Callable[[Page, str], None],
) -> None:
    # Azure Monitor fires an alert.
    number = send_alert(live_server, signing_key)["incident"]
    # An operator account, made as the README says.
    olga = UserFactory(username="olga")
    olga.set_password(PASSWORD)
    olga.save()
    call_command("grant_role", "olga", "operators", stdout=io.StringIO())

    def operator_path(page: Page) -> None:
        # Sign in.
        page.goto("/admin/")
        page.fill("#id_username", "olga")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#dashboard")).to_contain_text("Open incidents: 1")
        screenshot(page, "01-dashboard")

        # Find the incident Azure opened.
        page.click("#dash-open h3 a")
        page.fill("#searchbar", number)
        page.press("#searchbar", "Enter")
        row = page.locator("#result_list tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Transactions 100 > 0 on test-storageAccount")
        expect(row.locator(".badge.condition-fired")).to_have_text("Fired")
        screenshot(page, "02-incident-list")

        # Understand what fired on which resource.
        row.get_by_role("link", name=number).click()
        alerts = page.locator("#alerts")
        expect(alerts).to_contain_text("test-metricAlertRule")
        expect(alerts).to_contain_text("microsoft.storage/storageaccounts/test-storageAccount")
        portal = alerts.get_by_role("link", name="Open in the Azure portal")
        assert (portal.get_attribute("href") or "").startswith("https://portal.azure.com/#blade/")
        expect(page.locator("#configuration-items")).to_contain_text("test-storageAccount")
        screenshot(page, "03-incident")

        # Take it, start work, then resolve it through the resolve form.
        page.click("[data-action=take]")
        expect(page.locator(".messagelist")).to_contain_text(f"Assigned to you {number}.")
        page.click("[data-action=start]")
        expect(page.locator("#incident-summary")).to_contain_text("In progress")
        page.click("[data-action=resolve]")
        page.select_option("#id_resolution_code", "solved")
        page.fill("#id_resolution_notes", "Throttled the client that flooded GetBlob.")
        screenshot(page, "04-resolve-form")
        page.click("#lifecycle-form input[type=submit]")
        expect(page.locator(".messagelist")).to_contain_text(f"Resolved {number}.")
        expect(page.locator("#incident-summary")).to_contain_text("Resolved")

        # The record of all of it, newest first, with a work note on top.
        page.fill("#work-note-form textarea", "Told the storage team.")
        page.click("#work-note-form button")
        timeline = page.locator("ol.timeline li")
        expect(timeline.first).to_contain_text("Told the storage team.")
        expect(timeline.nth(1)).to_contain_text(
            "Resolved (Solved). Throttled the client that flooded GetBlob."
        )
        expect(timeline.nth(1)).to_contain_text("olga")
        expect(timeline.last).to_contain_text("Azure Monitor")
        screenshot(page, "05-journal")

        # The raw delivery behind it.
        page.locator("#alerts a.delivery-link").first.click()
        expect(page.locator("pre.raw-body")).to_contain_text(
            '"schemaId": "azureMonitorCommonAlertSchema"'
        )
        screenshot(page, "06-raw-delivery")

    in_browser(operator_path)

    incident = Incident.objects.get(number=number)
    assert (incident.state, incident.resolution_code) == ("resolved", "solved")
    assert incident.assigned_to.username == "olga"
    by_olga = list(
        incident.journal.filter(actor__username="olga")
        .order_by("created_at", "pk")
        .values_list("kind", flat=True)
    )
    assert by_olga == ["assigned", "state_changed", "state_changed", "work_note"]
    assert Delivery.objects.count() == 1
    assert {p.name for p in SCREENSHOTS.iterdir()} >= {
        "01-dashboard.png",
        "02-incident-list.png",
        "03-incident.png",
        "04-resolve-form.png",
        "05-journal.png",
        "06-raw-delivery.png",
    }


# What a list looks like in the browser: how wide the page is against the window, whether the
# list's own box scrolls sideways, which of `columns` are not wholly inside the window, and
# whether the navigation sidebar is open.
LAYOUT = """(columns) => {
    const inside = (el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.left >= 0 && box.right <= window.innerWidth;
    };
    const results = document.querySelector("#changelist .results");
    return {
        pageWidth: document.documentElement.scrollWidth,
        windowWidth: window.innerWidth,
        listOverflow: results ? results.scrollWidth - results.clientWidth : 0,
        hidden: columns.filter((name) => {
            const head = document.querySelector("#result_list th.column-" + name);
            const cell = document.querySelector("#result_list tbody tr .field-" + name);
            return !head || !cell || !inside(head) || !inside(cell);
        }),
        sidebarOpen: document.getElementById("main").classList.contains("shifted"),
    };
}"""
INCIDENT_COLUMNS = ["number", "short_title", "state_cell", "priority_cell", "main_ci", "opened"]
LONG_TITLE = (
    "Percentage CPU greater than 95 for 15 minutes on vm-payments-api-westeurope-prod-042 "
    "and 11 more virtual machines of the payments platform in rg-payments-prod-westeurope, "
    "checkout is slow and card authorisations time out for customers in several markets"
)[:255].ljust(255, ".")


def sign_in(page: Page, username: str) -> None:
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()


def assert_fits(
    page: Page, columns: list[str], screenshot: Callable[..., None], name: str
) -> dict[str, Any]:
    screenshot(page, name, full_page=False)  # what the window shows; first, to see a failure
    layout = page.evaluate(LAYOUT, columns)
    assert layout["pageWidth"] <= layout["windowWidth"], layout
    assert layout["listOverflow"] <= 1, layout
    assert layout["hidden"] == [], layout
    return layout


@pytest.mark.parametrize(("width", "folded"), [(1366, True), (1440, True), (1920, False)])
def test_incident_list_reads_at_a_glance_without_scrolling_sideways(
    in_browser: Callable[..., None],
    fire: Any,
    screenshot: Callable[..., None],
    width: int,
    folded: bool,
) -> None:
    groups = [AssignmentGroupFactory(name=name) for name in ("Cloud operations", "Payments")]
    users = [UserFactory(username=name) for name in ("amira", "bogdan")]
    for n in range(25):
        incident = fire(
            f"vm-payments-api-westeurope-prod-{n:03}",
            *([f"db-{n}"] if n % 4 == 0 else []),
            severity=f"Sev{n % 5}",
            alertRule=f"High CPU on the payments tier {n}",
        )
        if n % 3:
            incident_assign(
                incident=incident,
                actor="test",
                assigned_to=users[n % 2],
                assignment_group=groups[n % 2],
            )
    # The first is a priority-1 incident: at the top of the list, in the screenshots.
    first = Incident.objects.get(alerts__alert_rule="High CPU on the payments tier 0")
    Incident.objects.filter(pk=first.pk).update(title=LONG_TITLE)
    olga = UserFactory(username="olga")
    olga.set_password(PASSWORD)
    olga.save()
    call_command("grant_role", "olga", "operators", stdout=io.StringIO())

    def look(page: Page) -> None:
        sign_in(page, "olga")
        page.goto("/admin/incidents/incident/")
        expect(page.locator("#result_list tbody tr")).to_have_count(25)
        layout = assert_fits(page, INCIDENT_COLUMNS, screenshot, f"10-incident-list-{width}")
        assert layout["sidebarOpen"] is not folded, layout
        # The long title stops after three lines; all of it is in the tooltip.
        title = page.locator("#result_list .clamp", has_text=LONG_TITLE[:40])
        assert title.get_attribute("title") == LONG_TITLE
        lines = page.evaluate(
            "(el) => el.getBoundingClientRect().height"
            " / parseFloat(getComputedStyle(el).lineHeight)",
            title.element_handle(),
        )
        assert lines <= 3.05, lines
        # The filters by alert rule and by monitoring service.
        expect(page.locator("#changelist-filter")).to_contain_text("By alert rule")
        expect(page.locator("#changelist-filter")).to_contain_text("By monitoring service")

        page.goto("/admin/cmdb/configurationitem/")
        columns = ["name", "ci_class", "open_incidents"]
        assert_fits(page, columns, screenshot, f"11-configuration-items-{width}")
        page.goto("/admin/integrations/delivery/")
        columns = ["received_at", "connection", "outcome_badge", "alert_link"]
        assert_fits(page, columns, screenshot, f"12-deliveries-{width}")

    in_browser(look, width=width, height=768 if width == 1366 else 900)


# --- issue 10: a storm, a Service Health outage and a maintenance window, as seen in the console


@pytest.fixture
def operator_olga(db: None) -> Any:
    """An operator who signs in with PASSWORD, made as the README says."""
    olga: Any = UserFactory(username="olga")
    olga.set_password(PASSWORD)
    olga.save()
    call_command("grant_role", "olga", "operators", stdout=io.StringIO())
    return olga


def incident_url(number: str) -> str:
    return f"/admin/incidents/incident/{Incident.objects.get(number=number).pk}/change/"


def test_screenshots_of_a_storm_grouped_into_one_incident(
    in_browser: Callable[..., None],
    fire: Any,
    operator_olga: Any,
    screenshot: Callable[..., None],
) -> None:
    correlation_rule_create(
        values={
            "name": "CPU storms per resource group",
            "position": 10,
            "match": {"alert_rules": ["High CPU on the web tier"]},
            "group_by": ["alert_rule", "resource_group"],
            "window_minutes": 10,
            "max_age_minutes": 120,
            "resolve_on": "all",
        }
    )
    now = timezone.now()
    numbers = {
        fire(
            f"vm-web-{n:02}",
            alertRule="High CPU on the web tier",
            severity="Sev2" if n else "Sev1",
            fired_at=now - timedelta(seconds=50 - n),
        ).number
        for n in range(50)
    }
    assert len(numbers) == 1, numbers  # one rule on 50 VMs: one incident
    number = numbers.pop()
    fire("vm-db-01", alertRule="Disk almost full")  # an incident of its own, for contrast
    page_url = incident_url(number)  # here: the browser's thread may not use the database

    def look(page: Page) -> None:
        sign_in(page, "olga")
        page.goto("/admin/incidents/incident/")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(2)
        storm = rows.filter(has_text=number)
        expect(storm.locator(".badge.event-group")).to_have_text(
            "50 alerts · CPU storms per resource group"
        )
        screenshot(page, "20-storm-list", full_page=False)
        page.goto(page_url)
        expect(page.locator("#incident-summary .badge.event-group")).to_contain_text("50 alerts")
        expect(page.locator("#alerts .alert-card")).to_have_count(50)
        expect(page.locator("#configuration-items tbody tr")).to_have_count(50)
        screenshot(page, "21-storm-incident", full_page=False)

    in_browser(look, width=1366, height=768)


def test_screenshots_of_a_service_health_outage_followed_to_its_end(
    in_browser: Callable[..., None],
    post_alert: Any,
    connection: Connection,
    operator_olga: Any,
    screenshot: Callable[..., None],
) -> None:
    answers = [
        post_alert(load_fixture(f"azure/service-health-{stage}.json")).json()
        for stage in ("active", "update", "resolved")
    ]
    assert [a["status"] for a in answers] == ["created", "updated", "resolved"]
    number = answers[0]["incident"]
    assert {a["incident"] for a in answers} == {number}
    page_url = incident_url(number)  # here: the browser's thread may not use the database

    def look(page: Page) -> None:
        sign_in(page, "olga")
        page.goto("/admin/incidents/incident/?state=all")
        page.fill("#searchbar", "TEST-TTT")
        page.press("#searchbar", "Enter")
        row = page.locator("#result_list tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator(".badge.event-tracking")).to_have_text("TEST-TTT")
        expect(row.locator(".badge.state-resolved")).to_be_visible()
        screenshot(page, "30-service-health-list", full_page=False)
        page.goto(page_url)
        expect(page.locator("#incident-summary")).to_contain_text("Resolved")
        expect(page.locator("#alerts .alert-card")).to_have_count(3)
        timeline = page.locator("ol.timeline li")
        expect(timeline.first).to_contain_text("Azure Monitor")
        assert timeline.count() >= 3
        screenshot(page, "31-service-health-incident")

    in_browser(look, width=1366, height=768)


def test_screenshots_of_a_maintenance_window_holding_an_alert(
    in_browser: Callable[..., None],
    post_alert: Any,
    connection: Connection,
    operator_olga: Any,
    screenshot: Callable[..., None],
) -> None:
    now = timezone.now()
    maintenance_window_create(
        name="Patching rg-web",
        reason="Monthly OS patches",
        starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2),
        scope={"resource_groups": ["rg-web"]},
        created_by=operator_olga,
    )
    maintenance_window_create(
        name="Database failover test",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        scope={"resource_groups": ["rg-db"]},
    )
    held = post_alert(
        with_essentials(
            STATIC,
            alertId=alert_id(),
            alertTargetIDs=[vm_id("vm-web-01")],
            configurationItems=["vm-web-01"],
            firedDateTime=now.isoformat().replace("+00:00", "Z"),
        )
    ).json()
    assert (held["status"], held["incident"]) == ("suppressed", None)

    def look(page: Page) -> None:
        sign_in(page, "olga")
        page.goto("/admin/integrations/maintenancewindow/")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="Patching rg-web")).to_contain_text("1 held now")
        screenshot(page, "40-maintenance-windows", full_page=False)
        page.goto("/admin/integrations/alert/?held=yes")
        row = page.locator("#result_list tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator(".held")).to_have_text("held by Patching rg-web")
        screenshot(page, "41-held-alert", full_page=False)

    in_browser(look, width=1366, height=768)
    assert Incident.objects.count() == 0
