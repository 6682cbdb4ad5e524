"""Creates the four role groups with exactly the permissions of accounts.roles.

Idempotent: running it again (or after a permission was added by hand) resets each group
to the matrix. Later migrations that add permissions run it again.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from accounts.roles import ROLE_PERMISSIONS

    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in global_apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        objects = []
        for dotted in sorted(perms):
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            # A permission of a model (or a Meta) a later migration adds does not exist yet
            # at this point of the history: that migration runs this again
            # (tickets/migrations/0006_default_statuses).
            if permission is not None:
                objects.append(permission)
        group.permissions.set(objects)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("tickets", "0001_initial"),
        ("repairshop", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
