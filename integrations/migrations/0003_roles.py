"""Create the `operators` and `viewers` groups with their permissions."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Frozen here: a migration must not change when integrations/roles.py does.
ROLE_PERMISSIONS = {
    "viewers": [
        "incidents.view_incident",
        "incidents.view_journalentry",
        "incidents.view_assignmentgroup",
        "cmdb.view_configurationitem",
        "integrations.view_alert",
        "integrations.view_delivery",
        "integrations.view_connection",
    ],
}
ROLE_PERMISSIONS["operators"] = [
    *ROLE_PERMISSIONS["viewers"],
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.add_journalentry",
    "cmdb.add_configurationitem",
    "cmdb.change_configurationitem",
    "integrations.replay_delivery",
]


def create_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("cmdb", "0001_initial"),
        ("incidents", "0002_journal_kind_updated"),
        ("integrations", "0002_delivery_replay"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
