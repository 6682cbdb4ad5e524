"""The email a technician gets when a ticket is assigned to them (docs/api.md §7).

queue_assignment_email() runs inside the write's transaction: the Notification row and the
task that sends it are committed with the ticket or not at all, so a mail server outage
loses nothing and a rolled-back write sends nothing.
"""

from django.conf import settings

from tickets.models import Notification, Ticket


def ticket_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/tickets/{ticket.pk}/"


def _one_line(text: str) -> str:
    # A subject is a header: a newline in a title must not become a header injection.
    return " ".join(text.split())


def assignment_email(ticket: Ticket) -> tuple[str, str]:
    """(subject, body) naming the ticket number, customer and title, with the link."""
    customer = ticket.customer
    subject = _one_line(
        f"Ticket #{ticket.pk} assigned to you: {customer.full_name} - {ticket.title}"
    )
    if len(subject) > 255:
        subject = subject[:254] + "…"
    lines = [
        f"Ticket #{ticket.pk} has been assigned to you.",
        "",
        f"Customer: {customer.full_name} <{customer.email}>",
        f"Title: {ticket.title}",
        f"Priority: {ticket.get_priority_display()}",
    ]
    if ticket.device_type or ticket.device_brand or ticket.device_model:
        device = " ".join(
            part
            for part in (ticket.get_device_type_display(), ticket.device_brand, ticket.device_model)
            if part and part != "—"
        )
        lines.append(f"Device: {device}")
    lines += ["", ticket.description, "", f"Open the ticket: {ticket_url(ticket)}", ""]
    return subject, "\n".join(lines)


def queue_assignment_email(*, ticket: Ticket, tech) -> Notification | None:
    """Writes the Notification and enqueues its sending. Call inside the transaction that
    assigns `tech`. Nothing to send to a technician without an email address."""
    from tickets.tasks import send_notification

    if tech is None or not tech.email:
        return None
    subject, body = assignment_email(ticket)
    notification = Notification.objects.create(
        ticket=ticket, recipient=tech.email, subject=subject, body=body
    )
    send_notification.enqueue(notification.pk)
    return notification
