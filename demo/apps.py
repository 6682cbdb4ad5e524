"""The demo: `manage.py demo` and the vocabulary of its shop."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo"
