from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class RepairshopConfig(AppConfig):
    name = "repairshop"
    verbose_name = "Repair shop"

    def ready(self):
        from django.utils.autoreload import file_changed

        from repairshop.rendered import forget_on_template_change

        file_changed.connect(forget_on_template_change, dispatch_uid="repairshop.rendered")


class RepairshopAdminConfig(admin_apps.AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so that admin.site is ours."""

    default = False  # not the config of the "repairshop" app itself
    default_site = "repairshop.admin_site.RepairshopAdminSite"
