"""Fixtures for the ticket tests: fast password hashing and a real SMTP sink."""

import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from ops.mail_url import mailer_from_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it accepts. Created
    stopped: start() and stop() let a test take the "mail server" down and up again."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_sink(settings):
    """Mail goes over SMTP to a sink on a free loopback port; the sink is not yet running."""
    sink = SmtpSink(free_port())
    settings.MAILERS = {"default": mailer_from_url(f"smtp://127.0.0.1:{sink.port}", timeout=5)}
    yield sink
    sink.stop()
