"""`manage.py seed_connections FILE|-`: create or update connections from a JSON list."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from integrations.services import connection_upsert
from integrations.validators import ConnectionSpecSerializer


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error dict into "field: message" lines."""
    if isinstance(errors, dict):
        out = []
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "entry"
            out += _flatten(value, name)
        return out
    if isinstance(errors, list):
        out = []
        for i, value in enumerate(errors):
            if isinstance(value, dict | list):
                out += _flatten(value, f"{prefix}[{i}]")
            else:
                out.append(f"{prefix}: {value}")
        return out
    return [f"{prefix}: {errors}"]


class Command(BaseCommand):
    help = (
        "Create or update connections (Azure tenant + app registration) from a JSON list, "
        "by slug. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON file with a list of connections, or - for stdin")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        entries = self._load(options["file"])
        validated = self._validate(entries)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with transaction.atomic():
            for values in validated:
                slug = values.pop("slug")
                _, action = connection_upsert(slug=slug, values=values)
                counts[action] += 1
                self.stdout.write(f"{action:9} {slug}")
            if options["dry_run"]:
                transaction.set_rollback(True)
        summary = ", ".join(f"{n} {action}" for action, n in counts.items())
        prefix = "Dry run, nothing saved: " if options["dry_run"] else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}{summary}."))

    def _load(self, path: str) -> list[Any]:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        if not isinstance(data, list):
            raise CommandError(f"{path} must hold a JSON list of connections.")
        return data

    def _validate(self, entries: list[Any]) -> list[dict[str, Any]]:
        """Validate every entry before writing anything; report all errors at once."""
        problems: list[str] = []
        validated = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries, start=1):
            serializer = ConnectionSpecSerializer(data=entry)
            label = f"entry {i}"
            if isinstance(entry, dict) and isinstance(entry.get("slug"), str):
                label += f" ({entry['slug']})"
            if not serializer.is_valid():
                problems += [f"{label}: {line}" for line in _flatten(serializer.errors)]
                continue
            slug = serializer.validated_data["slug"]
            if slug in seen:
                problems.append(f"{label}: slug: repeats entry {seen[slug]}")
                continue
            seen[slug] = i
            validated.append(dict(serializer.validated_data))
        if problems:
            raise CommandError(
                "Nothing was saved; fix these and run again:\n  " + "\n  ".join(problems)
            )
        return validated
