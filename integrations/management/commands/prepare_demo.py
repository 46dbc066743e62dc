"""`manage.py prepare_demo`: the operator account and the offline demo connection (`make run`)."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from integrations import devtokens
from integrations.demo import (
    DEMO_CORRELATION_RULE,
    DEMO_SLUG,
    demo_connection_ensure,
    demo_correlation_rule_ensure,
)


class Command(BaseCommand):
    help = "Make sure an operator account and the demo connection exist (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="operator")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the app will be served (the demo key set is fetched from there)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "The demo uses a development signing key and needs DJANGO_DEBUG=1 "
                "(make run sets it in .env)."
            )
        devtokens.load_or_create_key(settings.DEV_SIGNING_KEY_PATH)
        with transaction.atomic():
            connection, action = demo_connection_ensure(base_url=options["base_url"])
            rule_action = demo_correlation_rule_ensure(connection=connection)
            password = self._ensure_operator(options["username"])
        user = get_user_model().objects.get(username=options["username"])
        token, _ = Token.objects.get_or_create(user=user)
        base = options["base_url"].rstrip("/")
        self.stdout.write(f"Demo connection '{DEMO_SLUG}': {action}.")
        self.stdout.write(f"Demo correlation rule '{DEMO_CORRELATION_RULE}': {rule_action}.")
        if password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created the operator account: {options['username']} / {password}\n"
                    "  (shown once; change it with: .venv/bin/python manage.py changepassword "
                    f"{options['username']})"
                )
            )
        else:
            self.stdout.write(f"Operator account '{options['username']}' exists already.")
        self.stdout.write(
            f"""
  Log in:            {base}/admin/
  API token:         {token.key}
                     curl -H 'Authorization: Token {token.key}' {base}/api/incidents/
  Send a test alert: .venv/bin/python manage.py send_test_alert [--sample NAME]
  Resolve it:        .venv/bin/python manage.py send_test_alert --resolve
  A storm, grouped:  .venv/bin/python manage.py send_test_alert --storm 50
  Other kinds:       .venv/bin/python manage.py send_test_alert --list-samples
  Notifications:     .venv/bin/python manage.py notification_receiver  (README: Notifications)
"""
        )

    def _ensure_operator(self, username: str) -> str | None:
        """Create the operator (a superuser) if missing; return its new password, if any."""
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            return None
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        return password
