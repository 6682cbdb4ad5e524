"""`manage.py worker`: the task worker (notification email), to run beside gunicorn.

It is django-tasks-db's `db_worker` (same options) made to outlive a database outage:
- `db_worker` exits on the first OperationalError; this one waits, reconnects and goes on.
- A send task that met the outage can end FAILED (the database came back in time to record
  the failure) or stay RUNNING forever (the worker died before it could). Its Notification is
  still pending but no task will ever send it. Every SWEEP_SECONDS the worker queues a new
  send for each such stranded notification. Sending is idempotent (send_notification locks
  the row and skips a notification that is no longer pending), so a spare task is harmless.
"""

import logging
import time
from datetime import timedelta

from django.db import close_old_connections, connections
from django.db.utils import DatabaseError, InterfaceError
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tickets.models import Notification
from tickets.tasks import send_notification

logger = logging.getLogger("tickets.worker")

SWEEP_SECONDS = 10
# A send holds its task RUNNING for at most a few SMTP timeouts (10 s each, settings.MAILERS);
# one RUNNING for longer belongs to a worker that died.
STALE_RUNNING = timedelta(seconds=60)
OUTAGE_BACKOFF = (0.5, 1, 2, 5)


def requeue_stranded_notifications() -> int:
    """Queues a send for every pending notification that no live task will send; returns
    how many. Cheap: pending notifications and live tasks are few."""
    task_path = send_notification.module_path
    live = DBTaskResult.objects.filter(task_path=task_path).filter(
        status=TaskResultStatus.READY
    ) | DBTaskResult.objects.filter(
        task_path=task_path,
        status=TaskResultStatus.RUNNING,
        started_at__gte=timezone.now() - STALE_RUNNING,
    )
    covered = {args["args"][0] for args in live.values_list("args_kwargs", flat=True)}
    stranded = [
        pk
        for pk in Notification.objects.filter(status=Notification.Status.PENDING).values_list(
            "pk", flat=True
        )
        if pk not in covered
    ]
    for pk in stranded:
        send_notification.enqueue(pk)
    if stranded:
        logger.warning("re-queued %s stranded notifications: %s", len(stranded), stranded[:20])
    return len(stranded)


class ResilientWorker(Worker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._current: int | None = None
        self._interrupted: set[int] = set()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        self._current = db_task_result.pk
        super().run_task(db_task_result)
        self._current = None

    def _release_interrupted(self) -> None:
        """A task cut short by the outage could not even be marked failed: it is RUNNING
        with nobody running it. Put it back in the queue."""
        if self._interrupted:
            DBTaskResult.objects.filter(
                pk__in=self._interrupted, status=TaskResultStatus.RUNNING
            ).update(status=TaskResultStatus.READY)
            self._interrupted.clear()

    def run(self) -> None:
        # Drain in batches, sweeping between them; the parent's loop would never return.
        self.batch = True
        next_sweep = 0.0
        failures = 0
        while self.running:
            try:
                self._release_interrupted()
                if time.monotonic() >= next_sweep:
                    requeue_stranded_notifications()
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                super().run()
                if not self.startup_delay:
                    # Each batch pass logs "Starting worker" / "No more tasks": once is enough.
                    logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
                self.startup_delay = False
                failures = 0
            except (DatabaseError, InterfaceError) as exc:
                if self._current is not None:
                    self._interrupted.add(self._current)
                    self._current = None
                    self.running_task = False
                delay = OUTAGE_BACKOFF[min(failures, len(OUTAGE_BACKOFF) - 1)]
                failures += 1
                logger.warning("database unavailable (%s); retrying in %ss", exc, delay)
                # Drop the broken connection so the next attempt opens a new one.
                for connection in connections.all(initialized_only=True):
                    connection.close_if_unusable_or_obsolete()
                close_old_connections()
                time.sleep(delay)
                continue
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return
            if self.running:
                time.sleep(self.interval)


class Command(DbWorkerCommand):
    help = "Run the task worker (notification email); survives database outages."

    def handle(self, *, batch: bool, **options) -> None:
        if batch:  # one pass over the queue: the plain worker does that well
            return super().handle(batch=batch, **options)
        self.configure_logging(options["verbosity"])
        exclude = options["exclude_queues"]
        worker = ResilientWorker(
            queue_names=options["queue_name"].split(","),
            excluded_queue_names=exclude.split(",") if exclude else [],
            interval=options["interval"],
            batch=False,
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
        )
        # No autoreload here: this is the production worker.
        worker.configure_signals()
        worker.run()
