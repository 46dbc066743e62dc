"""The open incidents by opening time: the dashboard's longest-waiting incident."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cmdb", "0002_read_indexes"),
        ("incidents", "0007_sla_backfill"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("state__in", ("new", "in_progress", "on_hold"))),
                fields=["opened_at", "id"],
                name="incidents_open_opened",
            ),
        ),
    ]
