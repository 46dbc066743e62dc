"""`manage.py drain_spool`: ingest the deliveries spooled while the database was down."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.spool import pending, spool_dir, spool_drain


class Command(BaseCommand):
    help = "Ingest spooled deliveries in arrival order (idempotent; web processes do it too)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="at most this many")

    def handle(self, *args: Any, **options: Any) -> None:
        waiting = len(pending())
        done, left = spool_drain(limit=options["limit"])
        self.stdout.write(f"Spool {spool_dir()}: {waiting} waiting, {done} ingested, {left} left.")
        if left and waiting and not done:
            self.stderr.write("The database still seems unavailable; the files are kept.")
