"""EMAIL_URL as Django's MAILERS entry (ops.mail_url)."""

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from ops.mail_url import mailer_from_url

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("url", "port", "use_tls", "use_ssl"),
    [
        ("smtp://mail.example", 25, False, False),
        ("smtp+tls://mail.example", 587, True, False),
        ("smtps://mail.example", 465, False, True),
        ("smtp+ssl://mail.example:2465", 2465, False, True),
        ("SMTP+TLS://mail.example:2525", 2525, True, False),
    ],
)
def test_smtp_schemes_choose_port_and_encryption(url, port, use_tls, use_ssl):
    mailer = mailer_from_url(url, timeout=7)
    assert mailer == {
        "BACKEND": SMTP,
        "OPTIONS": {
            "host": "mail.example",
            "port": port,
            "username": "",
            "password": "",
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": 7,
        },
    }


def test_credentials_are_percent_decoded():
    options = mailer_from_url(
        "smtp+tls://shop%40example.com:p%40ss%3Aw%2Frd@mail.example", timeout=1
    )["OPTIONS"]
    assert (options["username"], options["password"]) == ("shop@example.com", "p@ss:w/rd")


def test_non_smtp_backends():
    assert mailer_from_url("consolemail://", timeout=1) == {
        "BACKEND": "django.core.mail.backends.console.EmailBackend",
        "OPTIONS": {},
    }
    assert mailer_from_url("filemail:///var/mail/the%20shop", timeout=1)["OPTIONS"] == {
        "file_path": "/var/mail/the shop"
    }
    assert mailer_from_url("dummymail://", timeout=1)["BACKEND"].endswith("dummy.EmailBackend")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example", "must start with one of smtp://"),
        ("mail.example:25", "must start with one of"),
        ("smtp://mail.example:99999", "invalid host or port"),
        ("smtp+tls://", "needs a host"),
        ("filemail://relative/folder", "absolute folder"),
        ("smtps://mail.example:587", "that port wants smtp\\+tls://"),
        ("smtp+ssl://mail.example:25", "that port wants smtp\\+tls://"),
        ("smtp+tls://mail.example:465", "that port wants smtps://"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        mailer_from_url(url, timeout=1)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://shop:Secr3t/Tail@mail.example:587",  # the password's start read as a port
        "smtp://shop:Secr3t@mail.example/Tail",  # ... or the host followed by a path
        "smtp://shop:Sec?r3tTail@mail.example",
        "smtp://shop:Sec#r3tTail@mail.example",
    ],
)
def test_an_unencoded_password_is_refused_without_showing_it(url):
    with pytest.raises(ImproperlyConfigured, match="unencoded") as refused:
        mailer_from_url(url, timeout=1)
    for piece in ("Secr3t", "Sec", "Tail"):
        assert piece not in str(refused.value)


def test_the_configured_mailer_is_built_by_django(tmp_path):
    """The entry is what Django's mail.mailers takes: a real backend with these options."""
    entry = mailer_from_url("smtps://user:secret@mail.example:2465", timeout=3)
    with override_settings(MAILERS={"default": entry}):
        backend = mail.mailers.default
    assert (backend.host, backend.port, backend.username, backend.password) == (
        "mail.example",
        2465,
        "user",
        "secret",
    )
    assert (backend.use_ssl, backend.use_tls, backend.timeout) == (True, False, 3)
    with override_settings(
        MAILERS={"default": mailer_from_url(f"filemail://{tmp_path}", timeout=1)}
    ):
        sent = mail.EmailMessage("Hello", "Body", "shop@example.com", ["a@example.com"]).send()
    assert sent == 1
    assert "Subject: Hello" in next(tmp_path.iterdir()).read_text()
