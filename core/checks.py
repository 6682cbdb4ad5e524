"""System checks of the shared library: the rendered-list cache's settings."""

from django.apps import apps
from django.conf import settings
from django.core import checks


@checks.register()
def check_rendered_version_models(app_configs, **kwargs):
    """Every table of the data version must exist and carry updated_at: a wrong name would
    leave the lists' version blind to its changes, and they would be served stale."""
    problems = []
    for label in settings.RENDERED_VERSION_MODELS:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            problems.append(
                checks.Error(
                    f"RENDERED_VERSION_MODELS names {label!r}, which is no installed model.",
                    id="core.E001",
                )
            )
            continue
        if not any(field.name == "updated_at" for field in model._meta.concrete_fields):
            problems.append(
                checks.Error(
                    f"{label} has no updated_at field: the data version cannot see its changes.",
                    id="core.E002",
                )
            )
    return problems


@checks.register(checks.Tags.caches, deploy=True)
def check_rendered_verify_off(app_configs, **kwargs):
    if settings.RENDERED_VERIFY:
        return [
            checks.Warning(
                "RENDERED_VERIFY is on: every remembered list is rendered again on each hit.",
                hint="It is for tests; unset it in production.",
                id="core.W001",
            )
        ]
    return []
