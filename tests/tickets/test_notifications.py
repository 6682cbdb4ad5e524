"""The assignment email (docs/api.md §7): written with the ticket, sent by the task worker to a
real SMTP server, retried with back-off while the server is down, delivered exactly once."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests import factories
from tickets import tasks
from tickets.models import Notification
from tickets.services import ticket_assign, ticket_create, ticket_update
from tickets.tasks import run_pending_tasks, send_notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return factories.make_customer(first_name="Grace", last_name="Hopper", email="grace@navy.test")


def create_ticket(actor, customer, **data):
    return ticket_create(
        actor=actor,
        data={
            "customer_id": customer.pk,
            "title": "ThinkPad T14 — hinge broken",
            "description": "Left hinge snapped.",
            **data,
        },
    )


def test_assignment_email_reaches_the_smtp_server(
    smtp_sink, settings, frontdesk, technician, customer
):
    settings.SITE_URL = "https://shop.example"
    smtp_sink.start()
    ticket = create_ticket(frontdesk, customer)
    assert smtp_sink.messages == []  # queued, not sent inside the request

    assert run_pending_tasks() == 1

    [message] = smtp_sink.messages
    assert message["To"] == technician.email
    # Python's header folding may double a space next to an encoded word (the "—").
    subject = " ".join(message["Subject"].split())
    assert f"#{ticket.pk}" in subject and "Grace Hopper" in subject
    assert "ThinkPad T14 — hinge broken" in subject
    body = message.get_content()
    assert f"Ticket #{ticket.pk}" in body
    assert "Grace Hopper" in body and "ThinkPad T14 — hinge broken" in body
    assert f"https://shop.example/tickets/{ticket.pk}/" in body
    notification = Notification.objects.get()
    assert message["Message-ID"] == f"<{notification.key}@shop.example>"
    assert notification.status == Notification.Status.SENT
    assert (notification.attempts, notification.last_error) == (1, "")
    assert notification.sent_at is not None


def test_reassignment_emails_the_new_technician(
    smtp_sink, frontdesk, technician, other_technician, customer
):
    smtp_sink.start()
    ticket = create_ticket(frontdesk, customer, tech=technician)
    ticket_update(actor=frontdesk, ticket_id=ticket.pk, data={"tech": other_technician})
    ticket_assign(actor=frontdesk, ticket_id=ticket.pk, tech=technician)
    run_pending_tasks()
    assert [m["To"] for m in smtp_sink.messages] == [
        technician.email,
        other_technician.email,
        technician.email,
    ]


def test_unassigning_sends_nothing(smtp_sink, frontdesk, technician, customer):
    smtp_sink.start()
    ticket = create_ticket(frontdesk, customer)
    ticket_assign(actor=frontdesk, ticket_id=ticket.pk, tech=None)
    run_pending_tasks()
    assert len(smtp_sink.messages) == 1


def test_ticket_created_while_mail_server_is_down_is_mailed_once_it_is_back(
    smtp_sink, frontdesk, technician, customer
):
    ticket = create_ticket(frontdesk, customer)  # the sink is not running: port closed

    assert run_pending_tasks() == 1
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1
    assert "Connection refused" in notification.last_error or notification.last_error
    # The failed attempt re-enqueued itself with a back-off, so nothing is due right now.
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert retry.run_after > timezone.now()
    assert run_pending_tasks() == 0

    smtp_sink.start()
    assert run_pending_tasks(include_deferred=True) == 1

    [message] = smtp_sink.messages
    assert f"#{ticket.pk}" in message["Subject"]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.SENT, 2)

    # Running the task again (a duplicate enqueue, a restarted worker) sends nothing more.
    send_notification.enqueue(notification.pk)
    assert run_pending_tasks(include_deferred=True) == 1
    assert len(smtp_sink.messages) == 1


def test_backoff_grows_and_is_capped():
    assert [tasks.backoff_seconds(n) for n in (1, 2, 3, 8, 9, 20)] == [2, 4, 8, 256, 300, 300]


def test_retry_is_scheduled_after_the_backoff(smtp_sink, frontdesk, technician, customer):
    create_ticket(frontdesk, customer)
    before = timezone.now()
    run_pending_tasks()
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert before + timedelta(seconds=2) <= retry.run_after <= timezone.now() + timedelta(seconds=2)


def test_gives_up_after_max_attempts(smtp_sink, frontdesk, technician, customer):
    create_ticket(frontdesk, customer)
    Notification.objects.update(attempts=tasks.MAX_ATTEMPTS - 1)
    run_pending_tasks()
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == tasks.MAX_ATTEMPTS
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    # A failed notification is not retried by a stray run either.
    smtp_sink.start()
    send_notification.enqueue(notification.pk)
    run_pending_tasks()
    assert smtp_sink.messages == []


def test_notification_and_task_roll_back_with_the_write(frontdesk, technician, customer):
    with pytest.raises(RuntimeError), transaction.atomic():
        create_ticket(frontdesk, customer)
        assert Notification.objects.count() == 1
        assert DBTaskResult.objects.count() == 1
        raise RuntimeError("the request failed after the ticket was written")
    assert not Notification.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_missing_notification_is_skipped(smtp_sink):
    smtp_sink.start()
    send_notification.enqueue(987654)
    assert run_pending_tasks() == 1
    assert smtp_sink.messages == []


def test_subject_has_no_newlines_even_if_title_had_them(smtp_sink, frontdesk, technician, customer):
    from tickets.notifications import assignment_email

    ticket = factories.make_ticket(customer=customer, title="Line one\nBcc: evil@example.com")
    subject, _ = assignment_email(ticket)
    assert "\n" not in subject and "\r" not in subject


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_production_worker_command_delivers_the_email(smtp_sink, frontdesk, technician, customer):
    """`manage.py db_worker --no-reload` is what runs in production; its --batch mode
    drains the queue and exits."""
    from django.core.management import call_command

    smtp_sink.start()
    ticket = create_ticket(frontdesk, customer)
    call_command("db_worker", "--no-reload", "--batch", "--no-startup-delay", verbosity=0)
    [message] = smtp_sink.messages
    assert f"#{ticket.pk}" in message["Subject"]
    assert Notification.objects.get().status == Notification.Status.SENT
