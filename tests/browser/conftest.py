"""Playwright driving Debian's Chromium against pytest-django's live_server.

Every page a test opens records the browser console: a Content-Security-Policy violation or
an uncaught script error fails the test that caused it.
"""

import os

import pytest
from django.db import connections
from django.test import Client

from tests.helpers import DESKTOP

# live_server runs Django in a thread beside Playwright's event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ASSET_TYPES = {"stylesheet", "script", "image", "font"}


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: a sync Playwright left running holds
    an asyncio loop, and other modules start their own Playwright."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # A test's queries inside sync_playwright() run in Playwright's greenlet, whose context
        # holds its own Django connection (connections are per context). Closed nowhere else,
        # it stays checked out of the PostgreSQL pool and the test database cannot be dropped
        # at the end ("being accessed by other users").
        connections.close_all()


class ConsoleProblems(list):
    """CSP violations and script errors seen by any page of the test."""

    # Set by a test that makes requests fail on purpose: htmx then logs its error events.
    allow_failed = False

    def watch(self, page):
        def on_console(message):
            text = message.text
            if "Content Security Policy" in text:
                self.append(f"CSP: {text}")
            elif message.type == "error":
                # Answers the app gives on purpose (403, 404, 409) are network messages,
                # not script problems; a missing asset is caught by on_response below.
                if text.startswith("Failed to load resource"):
                    return
                if self.allow_failed and (
                    text.startswith("htmx:") or text.startswith("Response Status Error")
                ):
                    return
                self.append(f"console error: {text}")

        def on_response(response):
            if response.request.resource_type in ASSET_TYPES and response.status >= 400:
                self.append(f"asset {response.status}: {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.append(f"page error: {error}"))
        page.on("response", on_response)


@pytest.fixture
def console_problems():
    return ConsoleProblems()


@pytest.fixture
def open_page(browser, live_server, console_problems):
    """open_page(user, path, viewport=DESKTOP) -> a Playwright page signed in as `user`.

    Signs in through the session cookie that Django's test client makes (force_login), so
    that only the tests of the sign-in page depend on its form."""
    contexts = []

    def _open(user, path="/", *, viewport=None):
        # A fresh client per page: force_login on a shared client would flush the session of
        # the page opened before (a different user), and that page's next poll would be sent
        # to the sign-in page mid-test.
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=live_server.url)
        context.set_default_timeout(10_000)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        console_problems.watch(page)
        page.goto(path)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert list(console_problems) == [], "the browser console reported problems"
