"""Background tasks (django.tasks, run by `manage.py db_worker`): sending notifications.

The framework does not retry a task, so send_notification re-enqueues itself with a
back-off when the mail server fails, and gives up after MAX_ATTEMPTS.
"""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from tickets.models import Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 300


def backoff_seconds(attempts: int) -> int:
    return min(2**attempts, MAX_BACKOFF_SECONDS)


def message_id(notification: Notification) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "repairshop.invalid"
    return f"<{notification.key}@{domain}>"


@task()
def send_notification(notification_id: int) -> str:
    """Sends one Notification at most once and returns its status."""
    # The row lock is held while sending, so two runs of the same notification (a retry
    # racing a manual re-enqueue) cannot both send it.
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None:
            return "missing"
        if notification.status != Notification.Status.PENDING:
            return notification.status
        notification.attempts += 1
        message = EmailMessage(
            subject=notification.subject,
            body=notification.body,
            to=[notification.recipient],
            headers={"Message-ID": message_id(notification)},
        )
        try:
            message.send()
        except Exception as exc:  # SMTP, DNS, socket, timeouts: all worth a retry
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = Notification.Status.FAILED
                logger.error(
                    "notification %s failed for good after %s attempts: %s",
                    notification.pk,
                    notification.attempts,
                    notification.last_error,
                )
            else:
                delay = backoff_seconds(notification.attempts)
                send_notification.using(
                    run_after=timezone.now() + timedelta(seconds=delay)
                ).enqueue(notification.pk)
                logger.warning(
                    "notification %s not sent (attempt %s), retrying in %ss: %s",
                    notification.pk,
                    notification.attempts,
                    delay,
                    notification.last_error,
                )
            notification.save(update_fields=["attempts", "last_error", "status"])
            return notification.status
        notification.status = Notification.Status.SENT
        notification.sent_at = timezone.now()
        notification.last_error = ""
        notification.save(update_fields=["attempts", "last_error", "status", "sent_at"])
        return notification.status


def run_pending_tasks(*, include_deferred: bool = False) -> int:
    """Runs every task that is ready, one after another, in this process, with the worker's
    own run_task(); returns how many ran. For tests and the `demo` command.

    Unlike `db_worker --batch` it does not close the database connection between tasks,
    so it also works inside a test's transaction. `include_deferred` also runs tasks whose
    `run_after` is still in the future (a retry's back-off).
    """
    from django.tasks import TaskResultStatus
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="run_pending_tasks",
        excluded_queue_names=[],
    )
    backlog = DBTaskResult.objects.filter(backend_name=worker.backend_name)
    # Deferred tasks that exist now may run early; retries they enqueue wait their turn, so
    # a mail server that stays down does not make this loop forever.
    early_ids = (
        list(backlog.filter(status=TaskResultStatus.READY).values_list("id", flat=True))
        if include_deferred
        else []
    )
    ran = 0
    while True:
        with transaction.atomic():
            due = backlog.ready() | backlog.filter(status=TaskResultStatus.READY, id__in=early_ids)
            task_result = due.get_locked()
            if task_result is None:
                return ran
            task_result.claim(worker.worker_id)
        worker.run_task(task_result)
        ran += 1
