"""Indexes for the incident list's order and filters and, on PostgreSQL, its search."""

from django.conf import settings
from django.db import migrations, models

from core.migration_operations import trigram_index


class Migration(migrations.Migration):
    dependencies = [
        ("cmdb", "0002_read_indexes"),
        ("incidents", "0005_sla"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["priority", "opened_at"], name="incidents_priority_opened"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("state__in", ("new", "in_progress", "on_hold"))),
                fields=["priority", "opened_at"],
                name="incidents_open_priority",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["resolved_at"],
                name="incidents_resolved_at",
            ),
        ),
        trigram_index("incidents_incident", "number", "incidents_number_trgm"),
        trigram_index("incidents_incident", "title", "incidents_title_trgm"),
        trigram_index("incidents_incident", "description", "incidents_description_trgm"),
    ]
