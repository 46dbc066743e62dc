"""SLA clocks on incidents, SLA targets per priority with the contract's defaults."""

import django.core.validators
from django.apps.registry import Apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Frozen here (the contract's defaults): priority -> (respond, resolve) minutes.
DEFAULT_TARGETS = {1: (15, 240), 2: (30, 480), 3: (240, 1440), 4: (480, 4320), 5: (1440, 7200)}
# Both roles read the targets; staff change them.
ROLES = ("viewers", "operators")


def seed(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    SlaTarget = apps.get_model("incidents", "SlaTarget")
    for priority, (respond, resolve) in DEFAULT_TARGETS.items():
        SlaTarget.objects.get_or_create(
            priority=priority, defaults={"respond_minutes": respond, "resolve_minutes": resolve}
        )
    app_config = apps.get_app_config("incidents")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(content_type__app_label="incidents", codename="view_slatarget")
    # The roles' migration (integrations.0003) may run after this one: both create them.
    for name in ROLES:
        Group.objects.get_or_create(name=name)[0].permissions.add(*view)


def unseed(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("incidents", "SlaTarget").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cmdb", "0001_initial"),
        ("incidents", "0004_event_management"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SlaTarget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "priority",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (1, "1 - Critical"),
                            (2, "2 - High"),
                            (3, "3 - Moderate"),
                            (4, "4 - Low"),
                            (5, "5 - Planning"),
                        ],
                        unique=True,
                    ),
                ),
                (
                    "respond_minutes",
                    models.PositiveIntegerField(
                        validators=[django.core.validators.MinValueValidator(1)]
                    ),
                ),
                (
                    "resolve_minutes",
                    models.PositiveIntegerField(
                        validators=[django.core.validators.MinValueValidator(1)]
                    ),
                ),
            ],
            options={
                "verbose_name": "SLA target",
                "ordering": ["priority"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="journalentry",
            name="incidents_journalentry_kind_valid",
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_paused_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_paused_seconds",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_resolve_by",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_resolve_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_resolve_stage",
            field=models.CharField(
                choices=[
                    ("ok", "Within target"),
                    ("warned", "Warned (75 %)"),
                    ("breached", "Breached"),
                ],
                db_default="ok",
                default="ok",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_respond_by",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_respond_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_respond_stage",
            field=models.CharField(
                choices=[
                    ("ok", "Within target"),
                    ("warned", "Warned (75 %)"),
                    ("breached", "Breached"),
                ],
                db_default="ok",
                default="ok",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="sla_responded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("opened", "Opened"),
                    ("state_changed", "State changed"),
                    ("assigned", "Assignment changed"),
                    ("work_note", "Work note"),
                    ("updated", "Fields changed"),
                    ("source_update", "Update from the source"),
                    ("grouped", "Alert grouped"),
                    ("merged", "Merged"),
                    ("split", "Split"),
                    ("flapping", "Flapping"),
                    ("maintenance", "Maintenance window"),
                    ("sla", "SLA"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("sla_due_at__isnull", False)),
                fields=["sla_due_at"],
                name="incidents_sla_due",
            ),
        ),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("sla_respond_stage__in", ["ok", "warned", "breached"]),
                    ("sla_resolve_stage__in", ["ok", "warned", "breached"]),
                ),
                name="incidents_incident_sla_stage_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "opened",
                            "state_changed",
                            "assigned",
                            "work_note",
                            "updated",
                            "source_update",
                            "grouped",
                            "merged",
                            "split",
                            "flapping",
                            "maintenance",
                            "sla",
                        ],
                    )
                ),
                name="incidents_journalentry_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatarget",
            constraint=models.CheckConstraint(
                condition=models.Q(("priority__in", [1, 2, 3, 4, 5])),
                name="incidents_slatarget_priority_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="slatarget",
            constraint=models.CheckConstraint(
                condition=models.Q(("resolve_minutes__gte", 1), ("respond_minutes__gte", 1)),
                name="incidents_slatarget_minutes_positive",
            ),
        ),
        migrations.RunPython(seed, unseed),
    ]
