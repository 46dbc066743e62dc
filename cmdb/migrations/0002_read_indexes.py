"""The CI list's order; on PostgreSQL, pg_trgm and trigram indexes for the CI search."""

from django.db import migrations, models

from core.migration_operations import PostgresOnlySQL, trigram_index


class Migration(migrations.Migration):
    dependencies = [
        ("cmdb", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="configurationitem",
            index=models.Index(fields=["name", "id"], name="cmdb_ci_name_id"),
        ),
        # pg_trgm ships with PostgreSQL (contrib); the searches' indexes need it.
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop),
        trigram_index("cmdb_configurationitem", "name", "cmdb_ci_name_trgm"),
        trigram_index("cmdb_configurationitem", "azure_resource_id", "cmdb_ci_resource_id_trgm"),
    ]
