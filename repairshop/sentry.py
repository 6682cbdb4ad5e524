"""Sentry set-up: errors reach the on-call person, customers' personal data does not."""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration

from repairshop.middleware import current_request_id

RELEASE = "repairshop@0.1.0"


def scrub_event(event, hint):
    """Drops what send_default_pii=False still lets through: bodies, query strings, cookies,
    headers that can carry credentials, frame locals and user details other than the id."""
    request = event.get("request")
    if request:
        for key in ("data", "query_string", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers") or {}
        for name in list(headers):
            if name.lower() in ("cookie", "authorization", "x-csrftoken", "referer"):
                headers.pop(name)
        if "url" in request:
            request["url"] = request["url"].split("?", 1)[0]
    user = event.get("user")
    if user:
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values", []):
        for frame in (thread.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    event.setdefault("tags", {})["request_id"] = current_request_id.get()
    return event


def init_sentry(*, dsn: str, environment: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=RELEASE,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        # Sending happens on the SDK's background thread; a dead Sentry costs a request nothing.
        shutdown_timeout=1,
    )
