"""Time every console page and API list on databases of different sizes (bench/README.md).

For each database given (the first is the baseline, e.g. 400 incidents; then one filled by
bench/fill.py), the bench runs `manage.py migrate`, makes an operator (`bench-reader`,
in the `operators` group), starts gunicorn with 2 workers on 127.0.0.1, signs in through
the console's login form and requests each page of the table below: one warm-up, then
`--repeat` times, keeping the median. It prints milliseconds per page and database, and
the ratio of each database to the first. Any answer but 200 is an error (exit status 1).

    .venv/bin/python bench/reads.py \\
      --database small=postgres://postgres@127.0.0.1:55432/itsm_reads_small \\
      --database 100k=postgres://postgres@127.0.0.1:55432/itsm_reads
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from itsmbench import ROOT
from itsmbench.server import Gunicorn

USERNAME = "bench-reader"
MAKE_OPERATOR = """
from django.contrib.auth.models import Group, User
u, _ = User.objects.get_or_create(username={username!r}, defaults={{"is_staff": True}})
u.is_staff = True
u.set_password({password!r})
u.save()
u.groups.add(Group.objects.get(name="operators"))
"""
# Values the pages search for, taken from the database: an incident in the middle of
# history, its CI and its rule, and its alert's Azure ID.
SAMPLE_SQL = """
SELECT i.number, c.name, a.alert_rule, a.alert_id
FROM incidents_incident i
JOIN integrations_alert a ON a.incident_id = i.id
JOIN incidents_incidentconfigurationitem l ON l.incident_id = i.id
JOIN cmdb_configurationitem c ON c.id = l.configuration_item_id
WHERE i.id >= (SELECT (min(id) + max(id)) / 2 FROM incidents_incident)
ORDER BY i.id LIMIT 1
"""


def pages(number: str, ci_name: str, rule: str, alert_id: str) -> list[tuple[str, str]]:
    """The issue's table: (what, path)."""
    q = urllib.parse.quote
    inc = "/admin/incidents/incident/"
    api = "/api/incidents/"
    return [
        ("console home (dashboard)", "/admin/"),
        ("incident list, default (open)", inc),
        ("incident list, all states", inc + "?state=all"),
        ("incident list, resolved in the last 24 h", inc + "?state=all&resolved=24h"),
        ("incident list, search number", inc + "?state=all&q=" + q(number)),
        ("incident list, search CI name", inc + "?state=all&q=" + q(ci_name)),
        ("incident list, search rule", inc + "?state=all&q=" + q(rule)),
        ("configuration item list", "/admin/cmdb/configurationitem/"),
        ("configuration item search", "/admin/cmdb/configurationitem/?q=" + q(ci_name)),
        ("deliveries list", "/admin/integrations/delivery/"),
        ("alerts list", "/admin/integrations/alert/"),
        ("API incidents, search=", api + "?search=" + q(ci_name)),
        ("API incidents, last page", api + "?page=last"),
        ("API incidents, alert_id=", api + "?alert_id=" + q(alert_id)),
        ("API incidents, ordering=-opened_at", api + "?ordering=-opened_at"),
        ("API configuration items", "/api/configuration-items/"),
    ]


class Session:
    """A signed-in browser: cookies, the CSRF token, timed GETs."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, timeout=120) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        return status, (time.perf_counter() - started) * 1000, body

    def login(self, username: str, password: str) -> None:
        status, _, body = self.get("/admin/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or match is None:
            raise SystemExit(f"no login form at /admin/login/ ({status})")
        data = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": match.group(1).decode(),
                "username": username,
                "password": password,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(
            self.base + "/admin/login/", data=data, headers={"Referer": self.base + "/admin/"}
        )
        with self.opener.open(request, timeout=60) as response:
            if response.url.rstrip("/").endswith("/admin/login"):
                raise SystemExit("sign-in failed")


def measure(name: str, url: str, args: argparse.Namespace) -> dict[str, float | None]:
    """Start gunicorn on one database, sign in, time every page; return median ms by page."""
    import psycopg

    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_COOKIES="0",  # plain HTTP on loopback
    )
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    password = secrets.token_urlsafe(16)
    log = Path(tempfile.gettempdir()) / f"itsm-bench-reads-gunicorn-{args.port}.log"
    server = Gunicorn(port=args.port, workers=2, env=env, log_path=log, timeout=90)
    server.migrate()
    # DEBUG is off, as in production: pages name their static files through the manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            MAKE_OPERATOR.format(username=args.user, password=password),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    with psycopg.connect(url) as conn:
        row = conn.execute(SAMPLE_SQL).fetchone()
        count = conn.execute("SELECT count(*) FROM incidents_incident").fetchone()
    if row is None:
        raise SystemExit(f"{name}: no incident with an alert and a CI; run bench/fill.py")
    print(f"== {name}: {count[0] if count else 0:,} incidents", flush=True)
    server.start()
    results: dict[str, float | None] = {}
    try:
        session = Session(f"http://127.0.0.1:{args.port}")
        session.login(args.user, password)
        for label, path in pages(*row):
            if args.pages and args.pages not in label:
                continue
            session.get(path)  # warm-up: both workers' caches, the database's pages
            session.get(path)
            times, status = [], 200
            for _ in range(args.repeat):
                status, ms, _ = session.get(path)
                times.append(ms)
                if status != 200:
                    break
            results[label] = statistics.median(times) if status == 200 else None
            shown = f"{results[label]:8.0f} ms" if status == 200 else f"  status {status}"
            print(f"  {label:<44} {shown}   {path}", flush=True)
    finally:
        server.stop()
    return results


def print_table(names: list[str], results: list[dict[str, float | None]]) -> None:
    header = f"| page | {' | '.join(names)} |" + "".join(f" {n}/{names[0]} |" for n in names[1:])
    print()
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for label in results[0]:
        cells = [results[i].get(label) for i in range(len(names))]
        shown = [f"{c:,.0f} ms" if c is not None else "error" for c in cells]
        ratios = [f"{c / cells[0]:.2f}×" if c is not None and cells[0] else "–" for c in cells[1:]]
        print(f"| {label} | {' | '.join(shown)} |" + "".join(f" {r} |" for r in ratios))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        action="append",
        required=True,
        metavar="NAME=URL",
        help="a PostgreSQL database to measure (repeat; the first is the baseline)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (5)")
    parser.add_argument("--port", type=int, default=8011)
    # Two benches at once each need their own operator: signing in one resets the other's
    # password, which signs the other's session out.
    parser.add_argument("--user", default=USERNAME, help=f"the operator to sign in ({USERNAME})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--pages",
        metavar="SUBSTRING",
        help="time only the pages whose name holds this (e.g. search)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be between 1 and 50")
    names, results = [], []
    for item in args.database:
        name, _, url = item.partition("=")
        if not url.startswith(("postgres://", "postgresql://")):
            parser.error(f"{item!r}: expected NAME=postgres://...")
        names.append(name)
        results.append(measure(name, url, args))
    print_table(names, results)
    if args.json:
        args.json.write_text(json.dumps(dict(zip(names, results, strict=True)), indent=2))
    return 0 if all(v is not None for r in results for v in r.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
