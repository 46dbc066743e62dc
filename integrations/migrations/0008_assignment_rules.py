"""Assignment rules: the first matching rule sets a new incident's group; roles read them."""

import django.db.models.deletion
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

ROLES = ("viewers", "operators")


def grant(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    app_config = apps.get_app_config("integrations")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="integrations", codename="view_assignmentrule"
    )
    # The roles' migration (integrations.0003) may run after this one: both create them.
    for name in ROLES:
        Group.objects.get_or_create(name=name)[0].permissions.add(*view)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_event_management"),
        ("integrations", "0007_event_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="AssignmentRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("name", models.CharField(max_length=200, unique=True)),
                ("position", models.PositiveIntegerField(default=100)),
                ("enabled", models.BooleanField(default=True)),
                ("match", models.JSONField(blank=True, default=dict)),
                (
                    "assignment_group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assignment_rules",
                        to="incidents.assignmentgroup",
                    ),
                ),
                (
                    "connection",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="assignment_rules",
                        to="integrations.connection",
                    ),
                ),
            ],
            options={
                "ordering": ["position", "pk"],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
