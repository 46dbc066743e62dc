"""Indexes for the API's alert_id filter and, on PostgreSQL, the incident search over alerts."""

from django.db import migrations, models

from core.migration_operations import PostgresOnlySQL, trigram_index


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_read_indexes"),
        ("integrations", "0008_assignment_rules"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["alert_id"], name="integrations_alert_alert_id"),
        ),
        trigram_index("integrations_alert", "alert_rule", "integrations_alert_rule_trgm"),
        trigram_index("integrations_alert", "condition", "integrations_alert_condition_trgm"),
        # tracking_id__iexact: UPPER(tracking_id) = UPPER(term).
        PostgresOnlySQL(
            'CREATE INDEX IF NOT EXISTS "integrations_alert_tracking_upper" '
            'ON "integrations_alert" (UPPER("tracking_id"::text))',
            'DROP INDEX IF EXISTS "integrations_alert_tracking_upper"',
        ),
    ]
