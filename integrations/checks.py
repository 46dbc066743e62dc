"""Deploy checks (`manage.py check --deploy`): development leftovers that must not stay live.

They only run with `--deploy`, so `manage.py check` in `make lint` never reads the database.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from .demo import DEMO_SLUG


@checks.register(checks.Tags.security, deploy=True)
def check_plain_http_key_sets(
    app_configs: Sequence[AppConfig] | None, databases: Iterable[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn about enabled connections whose key set comes over plain http (the demo's).

    Such a key set is only allowed on loopback hosts, for development: in production, who
    serves it decides which tokens are valid. A disabled connection refuses every delivery,
    so it is not flagged. Skipped when the database cannot be read (not migrated yet, or
    down): this is advice, and the settings checks must still run.
    """
    from .models import Connection

    try:
        slugs = list(
            Connection.objects.filter(enabled=True, jwks_uri__istartswith="http://")
            .order_by("slug")
            .values_list("slug", flat=True)
        )
    except DatabaseError:
        return []
    return [
        checks.Warning(
            f"Connection {slug!r} fetches its signing keys over plain http.",
            hint=(
                "It is the demo connection of `make run` (prepare_demo), for development "
                "only: disable or delete it."
                if slug == DEMO_SLUG
                else "Give it an https key set (jwks_uri), or disable it."
            ),
            obj=slug,
            id="integrations.W001",
        )
        for slug in slugs
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key_not_from_dotenv(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when the secret key came from a `.env` file (the one `make run` writes)."""
    if "DJANGO_SECRET_KEY" not in getattr(settings, "DOTENV_VARIABLES", ()):
        return []
    return [
        checks.Warning(
            "DJANGO_SECRET_KEY came from a .env file, not from the environment.",
            hint=(
                "A .env left by `make run` holds a development key (and DJANGO_DEBUG=1): "
                "delete it on production hosts and set DJANGO_SECRET_KEY in the environment."
            ),
            id="integrations.W002",
        )
    ]
