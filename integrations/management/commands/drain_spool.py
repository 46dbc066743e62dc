"""`manage.py drain_spool`: ingest the deliveries spooled while the database was down."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.services import spool_drain
from integrations.spool import failed_dir, pending, spool_dir


class Command(BaseCommand):
    help = "Ingest spooled deliveries in arrival order (idempotent; web processes do it too)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="at most this many")

    def handle(self, *args: Any, **options: Any) -> None:
        waiting = len(pending())
        report = spool_drain(limit=options["limit"])
        self.stdout.write(
            f"Spool {spool_dir()}: {waiting} waiting, {report.ingested} ingested, "
            f"{len(report.failed)} set aside, {report.left} left."
        )
        for name, error in report.failed:
            self.stderr.write(f"Set aside {failed_dir() / name}: {error}")
        if report.stopped_by:
            self.stderr.write(f"Stopped: {report.stopped_by}; the files are kept.")
