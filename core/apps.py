"""The shared library as a Django app: the activity log's model and its migrations."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    # The label the activity log was created under (its table, migrations and permissions):
    # moving the code out of the project package changed no row and no migration.
    label = "repairshop"
    verbose_name = "Repair shop"

    def ready(self):
        from django.utils.autoreload import file_changed

        from core import checks  # noqa: F401 - registers them
        from core.rendered import forget_on_template_change

        file_changed.connect(forget_on_template_change, dispatch_uid="core.rendered")
