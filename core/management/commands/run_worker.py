"""`manage.py run_worker [--concurrency N] [--queue NAME ...] [--burst]`: the job worker."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import jobs


class Command(BaseCommand):
    help = (
        "Run background jobs (PostgreSQL): one or more per node, beside gunicorn. Stops "
        "gracefully on SIGTERM or SIGINT. On SQLite, jobs run inside the web process: "
        "this command says so and exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency", type=int, default=4, help="jobs run at once (threads), default 4"
        )
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="NAME",
            help="take jobs of this queue only (repeatable); default all queues",
        )
        parser.add_argument(
            "--burst", action="store_true", help="run the jobs that are due, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        if not jobs.durable():
            # Least surprise for `make run`: nothing to do here, and no error.
            self.stdout.write(
                "SQLite: background jobs run inside the web process (not durable); "
                "no worker process is needed. Use PostgreSQL for durable jobs."
            )
            return
        jobs.run_worker(
            concurrency=options["concurrency"],
            queues=options["queues"],
            wait=not options["burst"],
        )
