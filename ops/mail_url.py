"""EMAIL_URL, the one mail setting an operator writes, as an entry of Django's MAILERS.

    smtp://user:pass@host:port     plain SMTP (port 25 unless given)
    smtp+tls://…                   STARTTLS (port 587 unless given)
    smtps://… or smtp+ssl://…      TLS from the first byte (port 465 unless given)
    consolemail://                 printed to the console (the default: a laptop, the demo)
    filemail:///absolute/folder    one file per message, in that folder
    dummymail://                   thrown away

A user name or password with reserved characters is percent-encoded (`p%40ss` for `p@ss`).
Production needs one of the smtp schemes: `manage.py check --deploy` reports the others
(Django's mail.E001).

Written here rather than taken from django-environ's email_url(): that returns the EMAIL_*
settings Django 6.1 deprecates in favour of MAILERS, and it reads smtps:// as STARTTLS, where
everyone else (and this project's README) means implicit TLS on port 465. A URL that worked
as smtps://…:587 before now stops start-up with the scheme to use instead.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_SMTP = "django.core.mail.backends.smtp.EmailBackend"
_SMTP_PORTS = {"smtp": 25, "smtp+tls": 587, "smtps": 465, "smtp+ssl": 465}
_OTHER_BACKENDS = {
    "consolemail": "django.core.mail.backends.console.EmailBackend",
    "filemail": "django.core.mail.backends.filebased.EmailBackend",
    "dummymail": "django.core.mail.backends.dummy.EmailBackend",
}


def mailer_from_url(url: str, *, timeout: float) -> dict:
    """The MAILERS entry ({"BACKEND", "OPTIONS"}) for an EMAIL_URL; a clear error for a bad one.
    `timeout` bounds each SMTP connect and command, so a dead server cannot hold a worker.
    Errors never quote the URL: it may hold the password."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in _OTHER_BACKENDS:
        options = {}
        if scheme == "filemail":
            if parts.netloc or not parts.path.startswith("/"):
                raise ImproperlyConfigured(
                    "EMAIL_URL filemail:// needs an absolute folder: filemail:///var/mail/shop"
                )
            options["file_path"] = unquote(parts.path)
        return {"BACKEND": _OTHER_BACKENDS[scheme], "OPTIONS": options}
    if scheme not in _SMTP_PORTS:
        known = ", ".join(f"{name}://" for name in [*_SMTP_PORTS, *_OTHER_BACKENDS])
        raise ImproperlyConfigured(f"EMAIL_URL must start with one of {known}")
    # A '/', '?' or '#' left unencoded in the password ends the host part early: the rest
    # would be read as a path, a query or a port, and mail would go somewhere else.
    unencoded = (
        "EMAIL_URL has an invalid host or port, or an unencoded '/', '?' or '#' in the user "
        "name or password (write them as %2F, %3F, %23)."
    )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ImproperlyConfigured(unencoded)
    try:
        port = parts.port or _SMTP_PORTS[scheme]
    except ValueError:
        raise ImproperlyConfigured(unencoded) from None
    if not parts.hostname:
        raise ImproperlyConfigured(f"EMAIL_URL {scheme}:// needs a host.")
    implicit_tls = scheme in ("smtps", "smtp+ssl")
    if (implicit_tls and port in (25, 587)) or (scheme == "smtp+tls" and port == 465):
        # Port 587 and 25 speak plain text first (then STARTTLS), 465 speaks TLS from the
        # first byte: the other pairing fails on every send, long after start-up.
        right = "smtp+tls" if implicit_tls else "smtps"
        raise ImproperlyConfigured(
            f"EMAIL_URL {scheme}:// with port {port}: that port wants {right}://"
        )
    return {
        "BACKEND": _SMTP,
        "OPTIONS": {
            "host": parts.hostname,
            "port": port,
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": scheme == "smtp+tls",
            "use_ssl": implicit_tls,
            "timeout": timeout,
        },
    }
