"""`manage.py worker` (tickets/management/commands/worker.py): a notification whose send task
an outage killed is queued again; one that a live task will send is left alone. The outage
itself (PostgreSQL stopped under load) is tests/reliability/test_db_restart.py."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from core.activity import record_activity
from core.models import ActivityLog
from tests import factories
from tickets.management.commands.worker import requeue_stranded_notifications
from tickets.models import Notification
from tickets.tasks import run_pending_tasks, send_notification

pytestmark = pytest.mark.django_db


def make_notification() -> Notification:
    return Notification.objects.create(
        ticket=factories.make_ticket(), recipient="tess@shop.test", subject="s", body="b"
    )


def tasks_for(notification) -> list[DBTaskResult]:
    return [
        t
        for t in DBTaskResult.objects.filter(task_path=send_notification.module_path)
        if t.args_kwargs["args"] == [notification.pk]
    ]


def test_a_notification_whose_task_failed_is_queued_again(mailoutbox):
    notification = make_notification()
    send_notification.enqueue(notification.pk)
    # What the outage leaves: the task recorded as failed, the mail still pending.
    DBTaskResult.objects.update(status=TaskResultStatus.FAILED)

    assert requeue_stranded_notifications() == 1
    assert [t.status for t in tasks_for(notification)].count(TaskResultStatus.READY) == 1
    run_pending_tasks()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert len(mailoutbox) == 1
    assert requeue_stranded_notifications() == 0


def test_a_task_left_running_by_a_dead_worker_is_replaced_after_a_minute():
    notification = make_notification()
    send_notification.enqueue(notification.pk)
    DBTaskResult.objects.update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=10)
    )
    assert requeue_stranded_notifications() == 0  # may still be running somewhere

    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(minutes=5))
    assert requeue_stranded_notifications() == 1


def test_queued_sent_and_failed_notifications_are_left_alone():
    queued = make_notification()
    send_notification.enqueue(queued.pk)
    sent = make_notification()
    Notification.objects.filter(pk=sent.pk).update(status=Notification.Status.SENT)
    given_up = make_notification()
    Notification.objects.filter(pk=given_up.pk).update(status=Notification.Status.FAILED)

    assert requeue_stranded_notifications() == 0
    assert len(tasks_for(queued)) == 1


def test_an_id_no_row_can_have_is_kept_in_the_metadata():
    # A refused write naming /api/tickets/9223372036854775808: the bigint column would
    # refuse the id (a 500 on PostgreSQL).
    user = factories.make_user()
    record_activity(actor=user, action="permission:denied", object_type="ticket", object_id=2**63)
    entry = ActivityLog.objects.get()
    assert entry.object_id is None
    assert entry.metadata == {"object_id": str(2**63)}
