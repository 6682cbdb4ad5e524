"""The project's one app config: the Django admin with the project's own site."""

from django.contrib.admin import apps as admin_apps


class RepairshopAdminConfig(admin_apps.AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so that admin.site is ours."""

    default_site = "repairshop.admin_site.RepairshopAdminSite"
