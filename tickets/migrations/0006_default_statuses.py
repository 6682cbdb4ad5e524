"""The ten default statuses (tickets.default_statuses), every existing ticket put in one
(open: Received; completed: Ready for pickup, since part 1's "completed" is the ready group's
default), its history begun, and the roles given the two new permissions."""

import importlib
from datetime import timedelta

from django.db import migrations
from django.db.models import F
from django.db.models.functions import Coalesce


def forwards(apps, schema_editor):
    from tickets.default_statuses import install_default_statuses

    Status = apps.get_model("tickets", "Status")
    install_default_statuses(
        Status, apps.get_model("tickets", "StatusTransition"), apps.get_model("tickets", "StatusGroupDefault")
    )
    received = Status.objects.get(key="received")
    ready = Status.objects.get(key="ready")
    Ticket = apps.get_model("tickets", "Ticket")
    tickets = Ticket.objects.filter(status__isnull=True)
    open_tickets = tickets.filter(completed=False)
    done_tickets = tickets.filter(completed=True)
    history = schema_editor.quote_name("tickets_statuschange")
    # Set-based: an existing shop may have hundreds of thousands of tickets. The entries are
    # written before the tickets get their status (they select the ones without).
    schema_editor.execute(
        f"INSERT INTO {history} (ticket_id, from_status_id, to_status_id, at, by_id, comment,"  # noqa: S608
        " override, notified) SELECT id, NULL, %s, created_at, NULL, '', false, false"
        " FROM tickets_ticket WHERE status_id IS NULL",
        [received.pk],
    )
    schema_editor.execute(
        f"INSERT INTO {history} (ticket_id, from_status_id, to_status_id, at, by_id, comment,"  # noqa: S608
        " override, notified) SELECT id, %s, %s, coalesce(completed_at, created_at), NULL, '',"
        " false, false FROM tickets_ticket WHERE status_id IS NULL AND completed",
        [received.pk, ready.pk],
    )
    open_tickets.update(
        status=received,
        status_changed_at=F("created_at"),
        overdue_at=F("created_at") + timedelta(hours=received.time_limit_hours),
    )
    done_tickets.update(
        status=ready, status_changed_at=Coalesce("completed_at", "created_at"), overdue_at=None
    )

    roles = importlib.import_module("accounts.migrations.0002_roles")
    roles.create_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0005_statuses"), ("accounts", "0003_user_updated_at")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
