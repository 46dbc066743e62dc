"""`manage.py purge_deliveries [--older-than DAYS] [--dry-run]`: retention of the raw log."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from integrations.services import delivery_purge


class Command(BaseCommand):
    help = (
        "Delete raw webhook deliveries older than DAYS (default DELIVERY_RETENTION_DAYS). "
        "Incidents and alerts are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, metavar="DAYS", default=None)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days is None:
            days = settings.DELIVERY_RETENTION_DAYS
        if days < 1:
            raise CommandError("--older-than must be at least 1 day.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        before = timezone.now() - timedelta(days=days)
        count = delivery_purge(
            before=before, batch_size=options["batch_size"], dry_run=options["dry_run"]
        )
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {count} deliveries received before {before:%Y-%m-%d %H:%M} UTC.")
