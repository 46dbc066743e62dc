"""Fill a PostgreSQL database with N incidents shaped like real ones (see bench/README.md).

For the read bench (bench/reads.py): history as a team that sends Azure alerts for years
holds it, 1,000 incidents a day, the newest ~2 % open and the rest resolved, closed or
canceled, each with its alert (an Azure alert ID, rule, target, condition), the webhook
deliveries that carried it (with a body of about 1 KB), its journal, and a link to one of
N/10 configuration items. Written in SQL (INSERT .. SELECT over generate_series), not
through the webhook: a million incidents take minutes, not days.

    DATABASE_URL=postgres://postgres@127.0.0.1:55432/itsm_reads \\
      .venv/bin/python bench/fill.py -n 100000

It runs `manage.py migrate` first, then adds to what is there (run it on an empty
database; `--reset` empties the tables it fills first), then VACUUM ANALYZE.
"""

# ruff: noqa: S608 - every statement is built from this file's constants, never from input

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from itsmbench import ROOT

# Azure Monitor's action groups app (integrations.choices.AZURE_MONITOR_ACTION_GROUP_APP_ID).
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
CONNECTION_SLUG = "bench-fill"
RULES_AT_MOST = 200  # distinct alert rules: one per ten CIs, at least 4, at most this
SUBSCRIPTIONS = 8
# Names as Azure estates have them (vm-orders-prod-weu-042, cpu-high-orders): words and
# a number. Names that differ only in digits (vm-0000001) share most trigrams, the worst
# case for the searches' trigram indexes (bench/README.md, "Names").
APPS = [
    "orders",
    "payments",
    "billing",
    "checkout",
    "catalog",
    "search",
    "cart",
    "inventory",
    "shipping",
    "pricing",
    "accounts",
    "identity",
    "profile",
    "reviews",
    "mailer",
    "reports",
    "ledger",
    "invoices",
    "refunds",
    "loyalty",
    "gateway",
    "portal",
    "admin",
    "media",
    "images",
    "video",
    "chat",
    "notify",
    "events",
    "audit",
    "metrics",
    "logging",
    "backup",
    "archive",
    "scheduler",
    "batch",
    "etl",
    "warehouse",
    "analytics",
    "ml",
    "crm",
    "erp",
    "hr",
    "payroll",
    "wiki",
    "docs",
    "build",
    "deploy",
    "vault",
    "dns",
]
ENVS = ("prod", "test", "dev", "stage")
REGIONS = ("weu", "neu", "eus", "wus2", "sea")
METRICS = ("cpu-high", "memory-low", "disk-full", "http-5xx")
CONDITIONS = (  # each metric's condition, as Azure words a metric alert's title
    "Percentage CPU greater than 80",
    "Available Memory Bytes less than 500000000",
    "Logical Disk Used percent greater than 90",
    "Http5xx greater than 10",
)
TABLES = (
    "integrations_delivery",
    "integrations_alert",
    "incidents_journalentry",
    "incidents_incidentconfigurationitem",
    "incidents_incident",
    "cmdb_configurationitem",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--incidents", type=int, default=100_000)
    parser.add_argument("--cis", type=int, help="configuration items (default N/10, >= 10)")
    parser.add_argument(
        "--open-percent", type=float, default=2.0, help="newest incidents left open (2)"
    )
    parser.add_argument("--per-day", type=int, default=1000, help="incidents a day (1000)")
    parser.add_argument("--reset", action="store_true", help="empty the filled tables first")
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.incidents <= 20_000_000:
        parser.error("-n must be between 1 and 20,000,000")
    args.cis = args.cis or max(10, args.incidents // 10)
    return args


def sql_array(words: tuple[str, ...] | list[str]) -> str:
    """A SQL array literal of this file's words."""
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


def ci_name_sql(k: str) -> str:
    """The SQL of the k-th (from 0) CI's name: vm-<app>-<env>-<region>-<nnn>, all distinct."""
    apps, envs, regions = len(APPS), len(ENVS), len(REGIONS)
    return (
        f"'vm-' || ({sql_array(APPS)})[1 + {k} %% {apps}]"
        f" || '-' || ({sql_array(ENVS)})[1 + ({k} / {apps}) %% {envs}]"
        f" || '-' || ({sql_array(REGIONS)})[1 + ({k} / {apps * envs}) %% {regions}]"
        f" || '-' || lpad(({k} / {apps * envs * regions})::text, 3, '0')"
    )


def rule_name_sql(r: str) -> str:
    """The SQL of the r-th (from 0) rule's name: <metric>-<app>, distinct for r < 200."""
    return (
        f"({sql_array(METRICS)})[1 + {r} %% {len(METRICS)}]"
        f" || '-' || ({sql_array(APPS)})[1 + ({r} / {len(METRICS)}) %% {len(APPS)}]"
    )


def sql_steps(n: int, cis: int, open_percent: float, per_day: int) -> list[tuple[str, str]]:
    """The statements, each with what it writes; %(name)s are filled by psycopg."""
    span_seconds = n * 86400.0 / per_day
    first_open = int(n * (1 - open_percent / 100)) + 1
    # The last 7 days' incidents are resolved, older ones closed.
    last_week = n - 7 * per_day
    rules = max(4, min(RULES_AT_MOST, cis // 10))
    params = {"n": n, "cis": cis, "span": span_seconds, "first_open": first_open}
    params["last_week"] = last_week
    steps = [
        (
            "connection",
            f"""
            INSERT INTO integrations_connection (created_at, updated_at, slug, name, tenant_id,
              audiences, allowed_app_ids, required_role, jwks_uri, allowed_subscriptions,
              enabled, auto_resolve_after_minutes, flap_interval_minutes, flap_threshold)
            VALUES (now(), now(), '{CONNECTION_SLUG}', 'Bench fill',
              '5e1c7a0b-bbbb-4c3d-9e8f-00000000f111', '["api://itsm-bench-fill"]', '[]',
              'ActionGroupsSecureWebhook', NULL, '[]', false, NULL, 60, 3)
            ON CONFLICT (slug) DO NOTHING""",  # disabled: its history only, no key fetches
        ),
        (
            "assignment groups",
            """
            INSERT INTO incidents_assignmentgroup (created_at, updated_at, name, description)
            SELECT now(), now(), 'Bench team ' || g, '' FROM generate_series(1, 5) g
            ON CONFLICT (name) DO NOTHING""",
        ),
        (
            "configuration items",
            """
            INSERT INTO cmdb_configurationitem (created_at, updated_at, name, ci_class,
              azure_resource_id, subscription_id, resource_group, first_seen_at, last_seen_at)
            SELECT now(), now(), name, 'microsoft.compute/virtualmachines',
              '/subscriptions/' || sub || '/resourcegroups/' || rg
                || '/providers/microsoft.compute/virtualmachines/' || name,
              sub, rg, now() - interval '3 years', now()
            FROM generate_series(1, %(cis)s) g,
              LATERAL (SELECT """
            + ci_name_sql("(g - 1)")
            + """ AS name,
                md5('bench-subscription-' || g %% """
            + str(SUBSCRIPTIONS)
            + """)::uuid::text AS sub) n,
              LATERAL (SELECT 'rg-' || split_part(name, '-', 2) || '-' || split_part(name, '-', 3)
                AS rg) r""",
        ),
    ]
    # The CIs just written, by position (ids are not assumed to start at 1).
    steps.append(
        (
            "CI positions",
            """
            CREATE TEMP TABLE fill_ci AS
            SELECT row_number() OVER (ORDER BY id) AS pos, id, name, azure_resource_id
            FROM (SELECT id, name, azure_resource_id FROM cmdb_configurationitem
                  ORDER BY id DESC LIMIT %(cis)s) newest;
            CREATE INDEX ON fill_ci (pos); ANALYZE fill_ci""",
        )
    )
    steps.append(
        (
            "incidents",
            """
            CREATE TEMP TABLE fill_inc AS
            SELECT g,
              now() - make_interval(secs => (%(n)s - g) * %(span)s / %(n)s) AS opened_at,
              (ARRAY['Sev0','Sev1','Sev2','Sev2','Sev3','Sev3','Sev3','Sev4'])
                [1 + g %% 8] AS severity,
              ((g::bigint * 7919) %% %(cis)s + 1)::int AS ci_pos,
              (g * 31) %% """
            + str(rules)
            + """ AS rule,
              CASE WHEN g >= %(first_open)s
                THEN (ARRAY['new','new','in_progress','on_hold'])[1 + g %% 4]
                WHEN g %% 100 = 0 THEN 'canceled'
                WHEN g > %(last_week)s THEN 'resolved'
                ELSE 'closed' END AS state,
              make_interval(mins => 5 + (g * 13) %% 600) AS took
            FROM generate_series(1, %(n)s) g;
            ALTER TABLE fill_inc ADD COLUMN id bigint;
            UPDATE fill_inc SET id = g + (SELECT coalesce(max(id), 0) FROM incidents_incident);
            ALTER TABLE fill_inc ADD COLUMN rule_name text;
            UPDATE fill_inc SET rule_name = """
            + rule_name_sql("rule")
            + """;
            CREATE INDEX ON fill_inc (g);
            INSERT INTO incidents_incident (id, created_at, updated_at, title, description,
              state, impact, urgency, priority, severity, opened_at, resolved_at, closed_at,
              resolution_code, resolution_notes, assigned_to_id, assignment_group_id,
              event_key, group_key, alert_count, last_alert_at, priority_set_by_person,
              is_flapping, sla_paused_seconds, sla_respond_stage, sla_resolve_stage)
            SELECT f.id, f.opened_at, f.opened_at + f.took,
              ("""
            + sql_array(CONDITIONS)
            + """)[1 + f.rule %% """
            + str(len(CONDITIONS))
            + """] || ' on ' || c.name,
              'Alert rule ' || f.rule_name || ' fired on ' || c.name || '.',
              f.state, m.impact, m.urgency, m.priority, f.severity, f.opened_at,
              CASE WHEN f.state IN ('resolved','closed','canceled') THEN f.opened_at + f.took END,
              CASE WHEN f.state IN ('closed','canceled')
                THEN f.opened_at + f.took + interval '3 days' END,
              CASE WHEN f.state IN ('resolved','closed')
                THEN (CASE WHEN f.g %% 3 = 0 THEN 'solved' ELSE 'resolved_by_source' END)
                ELSE '' END,
              '', NULL, (SELECT min(id) FROM incidents_assignmentgroup) + f.g %% 5,
              '', '', 1, f.opened_at, false, false, 0, 'ok', 'ok'
            FROM fill_inc f JOIN fill_ci c ON c.pos = f.ci_pos
            JOIN (VALUES ('Sev0',1,1,1), ('Sev1',1,2,2), ('Sev2',2,2,3), ('Sev3',2,3,4),
                         ('Sev4',3,3,5)) m(sev, impact, urgency, priority) ON m.sev = f.severity;
            SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'),
                          (SELECT max(id) FROM incidents_incident))""",
        )
    )
    steps.append(
        (
            "CI links",
            """
            INSERT INTO incidents_incidentconfigurationitem (linked_at, configuration_item_id,
              incident_id)
            SELECT f.opened_at, c.id, f.id FROM fill_inc f JOIN fill_ci c ON c.pos = f.ci_pos""",
        )
    )
    steps.append(
        (
            "alerts",
            """
            INSERT INTO integrations_alert (created_at, updated_at, alert_id, alert_rule,
              alert_rule_id, severity, signal_type, monitoring_service, monitor_condition,
              target_ids, configuration_items, fired_at, resolved_at, portal_url, incident_id,
              connection_id, condition, tracking_id, flap_key)
            SELECT f.opened_at, f.opened_at + f.took,
              '/subscriptions/' || split_part(c.azure_resource_id, '/', 3)
                || '/providers/Microsoft.AlertsManagement/alerts/'
                || (md5('alert' || f.id)::uuid)::text,
              f.rule_name,
              '/subscriptions/' || split_part(c.azure_resource_id, '/', 3)
                || '/resourceGroups/rg-rules/providers/microsoft.insights/metricAlerts/'
                || f.rule_name,
              f.severity, 'Metric', 'Platform',
              CASE WHEN f.state IN ('new','in_progress','on_hold') THEN 'Fired'
                ELSE 'Resolved' END,
              jsonb_build_array(c.azure_resource_id), '[]'::jsonb, f.opened_at,
              CASE WHEN f.state IN ('new','in_progress','on_hold') THEN NULL
                ELSE f.opened_at + f.took END,
              'https://portal.azure.com/#blade/Microsoft_Azure_Monitoring/AlertDetails/'
                || f.id,
              f.id, (SELECT id FROM integrations_connection WHERE slug = '"""
            + CONNECTION_SLUG
            + """'),
              'Percentage CPU > 80 (avg ' || (81 + f.g %% 19) || ')', '', ''
            FROM fill_inc f JOIN fill_ci c ON c.pos = f.ci_pos""",
        )
    )
    body = (
        '\'{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{'
        '"alertId":"\' || a.alert_id || \'","alertRule":"\' || a.alert_rule || \'",'
        '"severity":"\' || a.severity || \'","signalType":"Metric",'
        '"monitorCondition":"\' || cond || \'","monitoringService":"Platform",'
        '"alertTargetIDs":["\' || (a.target_ids->>0) || \'"],'
        '"originAlertId":"\' || md5(a.alert_id) || \'","firedDateTime":"\' || a.fired_at'
        " || '\",\"description\":\"' || repeat('CPU over threshold. ', 20) || '\"},"
        '"alertContext":{"conditionType":"SingleResourceMultipleMetricCriteria",'
        '"condition":{"windowSize":"PT5M","allOf":[{"metricName":'
        '"Percentage CPU","operator":"GreaterThan","threshold":"80",'
        '"timeAggregation":"Average","metricValue":93.2}]}}}}\''
    )
    steps.append(
        (
            "deliveries",
            f"""
            INSERT INTO integrations_delivery (received_at, body, content_type, caller_app_id,
              caller_object_id, caller_tenant_id, outcome, status_code, error,
              reported_alert_id, alert_id, connection_id, replay_of_id)
            SELECT at, convert_to({body}, 'UTF8'), 'application/json',
              '{ACTION_GROUPS_APP_ID}', '', '', outcome, status, '', a.alert_id, a.id,
              a.connection_id, NULL
            FROM integrations_alert a
            JOIN fill_inc f ON f.id = a.incident_id
            CROSS JOIN LATERAL (VALUES (a.fired_at, 'Fired', 'created', 201),
                                       (a.resolved_at, 'Resolved', 'resolved', 200))
              AS d(at, cond, outcome, status)
            WHERE d.at IS NOT NULL""",
        )
    )
    steps.append(
        (
            "journal",
            """
            INSERT INTO incidents_journalentry (created_at, kind, actor_name, message,
              from_state, to_state, actor_id, incident_id)
            SELECT at, kind, actor, message, from_s, to_s, NULL, f.id
            FROM fill_inc f CROSS JOIN LATERAL (VALUES
              (f.opened_at, 'opened', 'Azure Monitor', 'Opened by alert ' || f.rule_name,
               '', 'new', true),
              (f.opened_at + f.took / 4, 'work_note', 'operator1',
               'Looking at the CPU graphs of the machine, no deployment in the last hour.', '',
               '', f.g %% 3 = 0),
              (f.opened_at + f.took / 2, 'state_changed', 'operator1', '', 'new',
               'in_progress', f.state <> 'new'),
              (f.opened_at + f.took, 'state_changed', 'Azure Monitor',
               'Azure Monitor resolved the alert.', 'in_progress', 'resolved',
               f.state IN ('resolved','closed')),
              (f.opened_at + f.took + interval '3 days', 'state_changed', 'system',
               'Closed after 3 days resolved.', 'resolved', 'closed', f.state = 'closed'),
              (f.opened_at + f.took, 'state_changed', 'operator1', 'Not needed.',
               'in_progress', 'canceled', f.state = 'canceled'))
              AS j(at, kind, actor, message, from_s, to_s, keep)
            WHERE j.keep""",
        )
    )
    return [(label, sql % params if "%(" in sql else sql) for label, sql in steps]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database of its own.")
    if url.rstrip("/").rsplit("/", 1)[-1] == "itsm":
        raise SystemExit("Not the app's own database: create one for the bench.")
    import psycopg

    env = dict(os.environ)
    env.setdefault("DJANGO_SECRET_KEY", "bench-fill-" + "x" * 50)
    if not args.no_migrate:
        print("migrate ...", flush=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=900,
        )
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        if args.reset:
            conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")
        conn.execute("SET work_mem = '64MB'")
        with conn.transaction():
            for label, sql in sql_steps(args.incidents, args.cis, args.open_percent, args.per_day):
                t = time.monotonic()
                for statement in filter(str.strip, sql.split(";")):
                    conn.execute(statement.replace("%%", "%"))
                print(f"{label:<20} {time.monotonic() - t:7.1f} s", flush=True)
        t = time.monotonic()
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")
        print(f"{'vacuum analyze':<20} {time.monotonic() - t:7.1f} s")
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore
            for t in TABLES
        }
    print(f"filled in {time.monotonic() - started:.1f} s:")
    for table, count in counts.items():
        print(f"  {table:<38} {count:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
