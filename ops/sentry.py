"""Sentry set-up: errors reach the on-call person, customers' personal data does not.

What an event keeps: the exception type, its stack (file, function, line, code context), the
URL path without its query string, the method, a short allow-list of harmless headers, the
user's numeric id, the request id as a tag, release and environment. What it loses: request
bodies, query strings, cookies, other headers, frame locals, user emails/usernames/IPs,
breadcrumbs (log lines and SQL can quote customer data), and email addresses anywhere in
exception or log messages.
"""

import os
import re

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

from core.request_id import current_request_id

RELEASE = "repairshop@0.1.0"

# Headers that say how a request was made, never who made it or with what.
SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "content-type",
        "content-length",
        "host",
        "user-agent",
        "x-request-id",
        "hx-request",
        "hx-target",
        "hx-trigger",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _scrub_text(value):
    return _EMAIL.sub("[email]", value) if isinstance(value, str) else value


def _drop_frame_vars(container) -> None:
    for item in (container or {}).get("values", []):
        for frame in (item.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)


def scrub_event(event, hint):
    """Drops what the SDK sends even without default PII: bodies, query strings, cookies,
    headers that can carry credentials, frame locals and user details other than the id."""
    request = event.get("request")
    if request:
        for key in ("data", "query_string", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers") or {}
        request["headers"] = {
            name: value for name, value in headers.items() if name.lower() in SAFE_HEADERS
        }
        if "url" in request:
            request["url"] = request["url"].split("?", 1)[0]
    user = event.get("user")
    if user:
        event["user"] = {"id": user["id"]} if "id" in user else {}
    _drop_frame_vars(event.get("exception"))
    _drop_frame_vars(event.get("threads"))
    for exception in (event.get("exception") or {}).get("values", []):
        exception["value"] = _scrub_text(exception.get("value"))
    logentry = event.get("logentry") or event.get("message")
    if isinstance(logentry, dict):
        logentry["message"] = _scrub_text(logentry.get("message"))
        logentry["formatted"] = _scrub_text(logentry.get("formatted"))
        logentry.pop("params", None)
    elif isinstance(logentry, str):
        event["message"] = _scrub_text(logentry)
    event.pop("breadcrumbs", None)
    event.pop("extra", None)
    request_id = current_request_id.get()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def _no_breadcrumb(crumb, hint):
    return None


def init_sentry(*, dsn: str, environment: str, release: str | None = None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or os.environ.get("SENTRY_RELEASE") or RELEASE,
        integrations=[DjangoIntegration(transaction_style="url", middleware_spans=False)],
        # Neither send_default_pii (deprecated by the sentry-sdk in uv.lock) nor data_collection:
        # unset, the SDK sends no default PII. A data_collection dict would opt into collecting most
        # categories (cookies, headers, query strings) and leave them to the denylist.
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=_no_breadcrumb,
        # Errors only: no performance tracing, so nothing is sent for healthy requests.
        traces_sample_rate=0,
        # Sending happens on the SDK's background thread with a bounded queue; a dead or
        # slow Sentry costs a request nothing. At exit, wait at most a second for it.
        shutdown_timeout=1,
    )
