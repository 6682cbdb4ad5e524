"""Lists remembered per data version (core.rendered, core.pages.render_list):
served again without reading or rendering anything, but never stale, never another user's
and never with another request's token or nonce."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import roles
from tests import factories
from tests.helpers import (
    HTMX,
    ApiClient,
    page_text,
    poll_version,
    query_kind,
    rendered_templates,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

LISTS = ["/tickets/?completed=false", "/customers/?search=a", "/tickets/queue/"]


def _user_for(path, frontdesk, technician):
    return technician if "queue" in path else frontdesk


@pytest.mark.usefixtures("without_verify")  # a hit is not rendered again
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_repeated_list_renders_nothing_and_reads_only_the_version(
    client, frontdesk, technician, customer, path, headers
):
    factories.make_ticket(customer=customer, tech=technician, title="Cracked screen")
    client.force_login(_user_for(path, frontdesk, technician))
    first = client.get(path, **headers)
    with rendered_templates() as rendered, CaptureQueriesContext(connection) as ctx:
        again = client.get(path, **headers)
    assert again.status_code == 200
    assert rendered == []
    assert [query_kind(q["sql"]) for q in ctx.captured_queries] == ["session", "user", "version"]
    # The same page, but for the token (masked afresh) and the nonce.
    masked = re.compile(
        r'(csrfmiddlewaretoken" value=|X-CSRFToken": ")"?[A-Za-z0-9]+|nonce="[\w-]+'
    )

    def without_tokens(response):
        return masked.sub("", page_text(response))

    assert without_tokens(again) == without_tokens(first)


def test_a_change_shows_at_once(client, frontdesk, customer, technician):
    client.force_login(frontdesk)
    ticket = factories.make_ticket(customer=customer, tech=technician, title="Dead battery")
    assert "Tess" in page_text(client.get("/tickets/"))
    # A ticket, its customer and its technician: each change moves the data version.
    Ticket.objects.filter(pk=ticket.pk).update(title="Dead battery and fan")
    ticket.refresh_from_db()
    ticket.save()  # updated_at moves as with every service write
    assert "Dead battery and fan" in page_text(client.get("/tickets/"))
    customer.first_name = "Grace"
    customer.save()
    assert "Grace" in page_text(client.get("/tickets/"))
    technician.first_name = "Theodora"
    technician.save()
    assert "Theodora" in page_text(client.get("/tickets/"))


def test_each_user_gets_their_own_token_and_nonce(frontdesk, customer, technician):
    factories.make_ticket(customer=customer, tech=technician, title="Loose hinge")
    colleague = factories.make_user(username="desk2", roles=[roles.FRONTDESK])
    pages = {}
    for user in (frontdesk, colleague):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(user)
        browser.get("/tickets/")  # sets the CSRF cookie
        response = browser.get("/tickets/")  # served from memory after the first user
        token = re.search(r'name="csrfmiddlewaretoken" value="(\w+)"', page_text(response)).group(1)
        nonce = re.search(
            r'<script src="[^"]+app[^"]*\.js" defer nonce="([\w-]+)"', page_text(response)
        )
        secret = browser.cookies["csrftoken"].value
        assert _unmask_cipher_token(token) == secret
        assert f"'nonce-{nonce.group(1)}'" in response["Content-Security-Policy"]
        pages[user.username] = token
        # The token works: a status change posted with it is accepted.
        ticket = Ticket.objects.get(title="Loose hinge")
        answer = browser.post(
            f"/tickets/{ticket.pk}/status/",
            {
                "csrfmiddlewaretoken": token,
                "completed": "false" if ticket.completed else "true",
                "updated_at": ticket.updated_at.isoformat(),
            },
        )
        assert answer.status_code in (200, 302), answer.status_code
    assert pages[frontdesk.username] != pages[colleague.username]


def test_a_technician_never_gets_the_front_desks_list(
    client, frontdesk, technician, other_technician, customer
):
    factories.make_ticket(customer=customer, tech=other_technician, title="Otto's phone")
    client.force_login(frontdesk)
    assert "Otto&#x27;s phone" in page_text(client.get("/tickets/"))
    client.force_login(technician)
    body = page_text(client.get("/tickets/"))
    assert "Otto&#x27;s phone" not in body and "Otto's phone" not in body
    assert "No tickets match" in body


def test_a_role_change_takes_effect_on_the_next_request(client, frontdesk, customer):
    client.force_login(frontdesk)
    assert "New ticket" in page_text(client.get("/tickets/"))
    frontdesk.groups.set([Group.objects.get(name=roles.VIEWER)])
    body = page_text(client.get("/tickets/"))
    assert "New ticket" not in body
    assert client.get("/tickets/new/").status_code == 403
    # A group's own permissions changing counts too.
    Group.objects.get(name=roles.VIEWER).permissions.add(
        Permission.objects.get(codename="add_ticket", content_type__app_label="tickets")
    )
    assert client.get("/tickets/new/").status_code == 200


def test_a_message_is_shown_once(client, frontdesk, customer, technician):
    client.force_login(frontdesk)
    ticket = factories.make_ticket(customer=customer, tech=technician)
    client.get("/tickets/")
    response = client.post(
        f"/tickets/{ticket.pk}/status/",
        {"completed": "true", "updated_at": ticket.updated_at.isoformat(), "next": "/tickets/"},
    )
    assert response.status_code == 302
    with_message = page_text(client.get("/tickets/"))
    assert '<p class="message ' in with_message
    assert '<p class="message ' not in page_text(client.get("/tickets/"))


def test_the_poll_follows_the_remembered_page(client, frontdesk, customer):
    client.force_login(frontdesk)
    factories.make_ticket(customer=customer)
    version = poll_version(page_text(client.get("/tickets/")))
    assert version == poll_version(page_text(client.get("/tickets/")))
    assert client.get(f"/tickets/?v={version}", **HTMX).status_code == 204
    factories.make_ticket(customer=customer, title="Water damage")
    changed = client.get(f"/tickets/?v={version}", **HTMX)
    assert changed.status_code == 200 and "Water damage" in page_text(changed)


# --- the timed poll ------------------------------------------------------------------------------
TIMER = {**HTMX, "HTTP_X_POLL": "timer"}


def test_a_timed_poll_reads_no_version_within_its_max_age(client, frontdesk, customer, settings):
    settings.POLL_VERSION_MAX_AGE = 60
    client.force_login(frontdesk)
    factories.make_ticket(customer=customer)
    version = poll_version(page_text(client.get("/tickets/")))
    assert client.get(f"/tickets/?v={version}", **TIMER).status_code == 204
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/tickets/?v={version}", **TIMER).status_code == 204
    assert [query_kind(q["sql"]) for q in ctx.captured_queries] == ["session", "user"]
    # Within the minute a timed poll does not see a change; the refresh that follows a change
    # made on the page (no X-Poll) always does.
    factories.make_ticket(customer=customer, title="Water damage")
    assert client.get(f"/tickets/?v={version}", **TIMER).status_code == 204
    refreshed = client.get(f"/tickets/?v={version}", **HTMX)
    assert refreshed.status_code == 200 and "Water damage" in page_text(refreshed)


def test_a_timed_poll_sees_a_change_once_its_max_age_is_over(client, frontdesk, customer, settings):
    settings.POLL_VERSION_MAX_AGE = 0  # every timed poll reads the version
    client.force_login(frontdesk)
    factories.make_ticket(customer=customer)
    version = poll_version(page_text(client.get("/tickets/")))
    assert client.get(f"/tickets/?v={version}", **TIMER).status_code == 204
    factories.make_ticket(customer=customer, title="Water damage")
    changed = client.get(f"/tickets/?v={version}", **TIMER)
    assert changed.status_code == 200 and "Water damage" in page_text(changed)


# --- rendering budgets: the first request after a change -----------------------------------------
# session, user, version, the page (+ COUNT where counted), "is a technician" for the
# navigation, the technicians for the filter where shown, and on the ticket lists the
# workflow (statuses, moves, group defaults: the status filter's choices and the rows'
# moves, read once). The permissions were read by the warm-up request and are remembered
# per (user, updated_at).
RENDERING_BUDGETS = [
    ("/tickets/?completed=false", {}, 10),
    ("/tickets/?completed=false", HTMX, 9),  # the technicians validate the tech filter
    ("/tickets/?search=laptop", {}, 9),  # a search is shown without a COUNT
    ("/tickets/queue/", {}, 9),
    ("/customers/?search=a", {}, 6),
    ("/customers/?search=a", HTMX, 5),
]


@pytest.mark.parametrize(("path", "headers", "budget"), RENDERING_BUDGETS)
def test_rendering_a_list_costs_the_same_for_one_row_or_a_full_page(
    client, frontdesk, technician, path, headers, budget, django_assert_max_num_queries
):
    from django.core.cache import caches

    client.force_login(_user_for(path, frontdesk, technician))

    def add_rows(n):
        for _ in range(n):
            owner = factories.make_customer(first_name="Ada")
            factories.make_ticket(customer=owner, tech=technician, title="Laptop fan noise")

    add_rows(1)
    client.get(path, **headers)
    counts = []
    for more in (0, 40):
        add_rows(more)
        caches["rendered"].clear()
        with django_assert_max_num_queries(budget) as captured:
            response = client.get(path, **headers)
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts


# --- who shares what ------------------------------------------------------------------------------
def test_two_technicians_never_share_a_list(client, technician, other_technician, customer):
    factories.make_ticket(customer=customer, tech=technician, title="Tess laptop")
    factories.make_ticket(customer=customer, tech=other_technician, title="Otto phone")
    # The same permissions, different tickets: the first one's render must not serve the
    # second one.
    for path in ("/tickets/", "/tickets/queue/"):
        client.force_login(other_technician)
        assert "Otto phone" in page_text(client.get(path))
        client.force_login(technician)
        body = page_text(client.get(path))
        assert "Tess laptop" in body and "Otto phone" not in body, path
    for user, mine, theirs in (
        (other_technician, "Otto phone", "Tess laptop"),
        (technician, "Tess laptop", "Otto phone"),
    ):
        api = ApiClient(factories.make_token(user))
        titles = [t["title"] for t in api.get("/api/tickets").json()["tickets"]]
        assert titles == [mine], (user.username, titles)
        assert theirs not in titles


def test_users_who_may_only_complete_their_own_tickets_get_their_own_forms(client, customer):
    # A technician who may also see every ticket (technician + viewer): a status form on
    # their own tickets only, so two of them cannot share the rendered rows.
    first = factories.make_user(username="t1", roles=[roles.TECHNICIAN, roles.VIEWER])
    second = factories.make_user(username="t2", roles=[roles.TECHNICIAN, roles.VIEWER])
    one = factories.make_ticket(customer=customer, tech=first, title="First's job")
    two = factories.make_ticket(customer=customer, tech=second, title="Second's job")

    def has_form(body, ticket):
        return f'action="/tickets/{ticket.pk}/status/"' in body

    for user, own, other in ((first, one, two), (second, two, one)):
        client.force_login(user)
        body = page_text(client.get("/tickets/"))
        assert "First&#x27;s job" in body and "Second&#x27;s job" in body
        assert has_form(body, own) and not has_form(body, other), user.username


# --- the API follows every change -----------------------------------------------------------------
def test_api_lists_follow_changes(manager, technician, customer):
    api = ApiClient(factories.make_token(manager))
    ticket = factories.make_ticket(customer=customer, tech=technician, title="Sticky keys")

    def first_ticket():
        return api.get("/api/tickets").json()["tickets"][0]

    assert first_ticket()["title"] == "Sticky keys"
    assert (
        api.patch(
            f"/api/tickets/{ticket.pk}",
            {"title": "Sticky keys and trackpad", "updatedAt": first_ticket()["updatedAt"]},
        ).status_code
        == 200
    )
    assert first_ticket()["title"] == "Sticky keys and trackpad"
    technician.email = "tess.new@shop.test"
    technician.save()
    assert first_ticket()["tech"] == "tess.new@shop.test"
    assert api.get("/api/customers").json()["customers"][0]["active"] is True
    customer.active = False
    customer.save()
    assert api.get("/api/customers").json()["customers"][0]["active"] is False


# --- staff changes move updated_at (accounts.signals) ---------------------------------------------
def _moves(user, change) -> bool:
    before = type(user).objects.get(pk=user.pk).updated_at
    change()
    return type(user).objects.get(pk=user.pk).updated_at != before


def test_every_way_of_changing_a_users_rights_moves_updated_at(frontdesk):
    viewer_group = Group.objects.get(name=roles.VIEWER)
    permission = Permission.objects.get(codename="add_ticket", content_type__app_label="tickets")
    assert _moves(frontdesk, lambda: viewer_group.user_set.add(frontdesk))
    assert _moves(frontdesk, lambda: viewer_group.user_set.remove(frontdesk))
    assert _moves(frontdesk, lambda: frontdesk.user_permissions.add(permission))
    assert _moves(frontdesk, lambda: permission.user_set.clear())
    frontdesk_group = Group.objects.get(name=roles.FRONTDESK)
    assert _moves(frontdesk, lambda: frontdesk_group.permissions.remove(permission))
    assert _moves(frontdesk, lambda: permission.group_set.add(frontdesk_group))
    assert _moves(frontdesk, lambda: frontdesk.groups.clear())
    # A change that concerns nobody touches nobody.
    assert not _moves(frontdesk, lambda: permission.group_set.add())


# --- PostgreSQL: a change that commits late is not missed ----------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_change_that_commits_last_with_an_earlier_timestamp_moves_the_version(
    postgresql_only, customer
):
    """Two edits at once: the one stamped first commits last. Its updated_at is below the
    maximum the other one set, so the maxima alone would not move; the change counter does
    (tickets/migrations/0004_data_version)."""
    import threading

    from django.db import connections, transaction

    from core.rendered import data_version

    slow_ticket = factories.make_ticket(customer=customer, title="Edited first")
    quick_ticket = factories.make_ticket(customer=customer, title="Edited second")
    saved, release = threading.Event(), threading.Event()

    def slow_editor():
        try:
            with transaction.atomic():
                ticket = Ticket.objects.get(pk=slow_ticket.pk)
                ticket.title = "Edited first, committed last"
                ticket.save()
                saved.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    editor = threading.Thread(target=slow_editor)
    editor.start()
    assert saved.wait(timeout=30)
    quick_ticket.title = "Edited second, committed first"
    quick_ticket.save()
    seen = data_version()
    release.set()
    editor.join(timeout=30)
    slow_ticket.refresh_from_db()
    quick_ticket.refresh_from_db()
    assert slow_ticket.title == "Edited first, committed last"
    assert slow_ticket.updated_at < quick_ticket.updated_at  # the maxima did not move ...
    assert data_version() != seen  # ... the version did


# --- the cache cannot leak: what a shared rendering may read, and verify mode -----------------
def test_verify_mode_is_on_for_the_whole_suite(settings):
    assert settings.RENDERED_VERIFY is True


# One-line template changes that make the shared ticket rows depend on something their key
# (the Audience) does not hold. Each must fail, not serve one user's rows to another.
PLANTS = [
    "{% if user.is_staff %}staff{% endif %}",
    "{% if user.username == 'frontdesk' %}mine{% endif %}",
    "{% for group in request.user.groups.all %}{{ group.name }}{% endfor %}",
    "{{ request.COOKIES.sessionid }}",
    "{{ request.session.keys }}",
]


@pytest.fixture
def planted_ticket_table(settings, tmp_path):
    """A copy of tickets/_ticket_table.html with one line added, found before the real one."""
    from django.conf import settings as django_settings

    real = (django_settings.BASE_DIR / "templates/tickets/_ticket_table.html").read_text()

    def plant(line: str):
        folder = tmp_path / "tickets"
        folder.mkdir(exist_ok=True)
        (folder / "_ticket_table.html").write_text(real + line + "\n")
        templates = [dict(settings.TEMPLATES[0])]
        templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
        settings.TEMPLATES = templates

    return plant


@pytest.mark.parametrize("plant", PLANTS)
def test_a_shared_list_that_reads_beyond_its_audience_fails_loudly(
    client, frontdesk, customer, technician, planted_ticket_table, plant
):
    from core.rendered import RenderedLeak

    factories.make_ticket(customer=customer, tech=technician, title="Cracked screen")
    planted_ticket_table(plant)
    client.force_login(frontdesk)
    with pytest.raises(RenderedLeak):
        client.get("/tickets/")


def test_a_plant_reading_only_the_audience_is_safe(
    client, frontdesk, manager, customer, technician, planted_ticket_table
):
    """Roles and permissions are in the key: a condition on them renders per role."""
    factories.make_ticket(customer=customer, tech=technician, title="Cracked screen")
    planted_ticket_table(
        "{% if 'manager' in user.roles %}<p>MANAGER-ONLY</p>{% endif %}"
        "{% if perms.customers.delete_customer %}<p>MAY-DEACTIVATE</p>{% endif %}"
    )
    client.force_login(manager)
    assert "MANAGER-ONLY" in page_text(client.get("/tickets/"))
    client.force_login(frontdesk)
    body = page_text(client.get("/tickets/"))
    assert "MANAGER-ONLY" not in body and "MAY-DEACTIVATE" not in body


def test_verify_mode_fails_on_a_hit_that_differs_from_a_fresh_rendering(rf, frontdesk):
    """Whatever makes the output differ under one key (here a counter standing for data
    outside the version, the clock or a header), the hit fails."""
    from accounts.permissions import audience
    from core.rendered import RenderedMismatch, data_version, remember_shared

    request = rf.get("/tickets/")
    request.user = frontdesk
    renderings = iter(["<p>1</p>", "<p>2</p>"])

    def render(viewer, shared_request):
        return next(renderings)

    remember = {
        "name": "plant",
        "version": data_version(),
        "audience": audience(frontdesk, per_user=False),
    }
    assert remember_shared(request, **remember, render=render) == b"<p>1</p>"
    with pytest.raises(RenderedMismatch, match="differs from a fresh one"):
        remember_shared(request, **remember, render=render)


def test_verify_mode_forgives_a_write_between_the_version_and_the_fresh_rendering(
    rf, frontdesk, customer
):
    """A request that read the version just before a write, and renders just after it,
    sees newer data than its key: that is a race, not a leak (the reliability suite's
    concurrent writers hit it)."""
    from accounts.permissions import audience
    from core.rendered import data_version, remember_shared

    request = rf.get("/tickets/")
    request.user = frontdesk
    read_before_the_write = data_version()
    renderings = iter(["<p>before</p>", "<p>after</p>"])
    remember = {
        "name": "race",
        "version": read_before_the_write,
        "audience": audience(frontdesk, per_user=False),
    }
    remember_shared(request, **remember, render=lambda v, r: next(renderings))
    factories.make_ticket(customer=customer, title="Landed in between")
    body = remember_shared(request, **remember, render=lambda v, r: next(renderings))
    assert body == b"<p>before</p>"


def test_without_verify_a_hit_is_served_as_remembered(rf, frontdesk, without_verify):
    from accounts.permissions import audience
    from core.rendered import remember_shared

    request = rf.get("/tickets/")
    request.user = frontdesk
    renderings = iter(["<p>1</p>", "<p>2</p>"])
    remember = {"name": "plant", "version": "v1", "audience": audience(frontdesk, per_user=False)}
    for _ in range(2):
        body = remember_shared(request, **remember, render=lambda v, r: next(renderings))
        assert body == b"<p>1</p>"


def test_users_of_one_role_share_an_audience_and_group_membership_is_in_it(frontdesk):
    from django.contrib.auth.models import Permission

    from accounts.permissions import audience

    colleague = factories.make_user(username="desk2", roles=[roles.FRONTDESK])
    assert audience(colleague, per_user=False) == audience(frontdesk, per_user=False)
    # The same permissions held directly rather than through the group: another audience.
    lookalike = factories.make_user(username="lookalike", roles=[])
    for dotted in roles.ROLE_PERMISSIONS[roles.FRONTDESK]:
        app, codename = dotted.split(".")
        lookalike.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    lookalike = type(lookalike).objects.get(pk=lookalike.pk)
    assert lookalike.get_all_permissions() == frontdesk.get_all_permissions()
    assert audience(lookalike, per_user=False) != audience(frontdesk, per_user=False)
    # Per user: one user's alone.
    assert audience(colleague, per_user=True) != audience(frontdesk, per_user=True)


@pytest.mark.parametrize("role", roles.ROLES)
def test_the_viewer_answers_every_permission_check_as_the_user_does(role, customer, technician):
    """The equivalence the shared rows rely on: for every check of accounts.permissions a
    template can reach, the stand-in built from the audience answers as the user."""
    from accounts import permissions
    from accounts.permissions import audience
    from core.rendered import Viewer

    user = factories.make_user(username=f"the-{role}", roles=[role])
    own = factories.make_ticket(customer=customer, tech=user, title="Own")
    others = factories.make_ticket(customer=customer, tech=technician, title="Other")
    viewer = Viewer(audience(user, per_user=True))
    checks = [
        name
        for name in dir(permissions)
        if name.startswith("can_") and name not in ("can_use_admin",)
    ]
    assert len(checks) >= 12
    for name in checks:
        check = getattr(permissions, name)
        arguments = [(own,), (others,)] if check.__code__.co_argcount == 2 else [()]
        for extra in arguments:
            assert check(viewer, *extra) == check(user, *extra), (name, extra)


def test_a_version_model_that_does_not_exist_or_has_no_updated_at_is_refused(settings):
    from django.core import checks

    settings.RENDERED_VERSION_MODELS = ["tickets.Ticket", "tickets.Nothing", "auth.Group"]
    errors = {problem.id for problem in checks.run_checks() if problem.id.startswith("core.")}
    assert errors == {"core.E001", "core.E002"}
    settings.RENDERED_VERSION_MODELS = ["tickets.Ticket", "customers.Customer", "accounts.User"]
    assert not [p for p in checks.run_checks() if p.id.startswith("core.")]


def test_verify_mode_in_production_is_a_deploy_warning(settings):
    from django.core import checks

    settings.RENDERED_VERIFY = True
    warnings = {p.id for p in checks.run_checks(include_deployment_checks=True)}
    assert "core.W001" in warnings
