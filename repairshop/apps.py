from django.apps import AppConfig


class RepairshopConfig(AppConfig):
    name = "repairshop"
    verbose_name = "Repair shop"
