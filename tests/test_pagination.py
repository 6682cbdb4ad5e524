"""core.pagination: exact totals, pages past the end, and its two queries."""

import pytest

from core.errors import DomainError
from core.pagination import paginate
from customers.models import Customer
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_customers():
    return [factories.make_customer(last_name=f"Name{i}") for i in range(7)]


def ordered():
    return Customer.objects.order_by("last_name", "id")


def test_first_page_has_items_and_totals(seven_customers):
    page = paginate(ordered(), page=1, page_size=3)
    assert [c.last_name for c in page.items] == ["Name0", "Name1", "Name2"]
    assert (page.page, page.page_size, page.total, page.total_pages) == (1, 3, 7, 3)
    assert page.has_next_page and not page.has_prev_page


def test_last_page_is_partial(seven_customers):
    page = paginate(ordered(), page=3, page_size=3)
    assert [c.last_name for c in page.items] == ["Name6"]
    assert not page.has_next_page and page.has_prev_page


def test_pages_neither_repeat_nor_skip_rows(seven_customers):
    seen = []
    for number in (1, 2, 3):
        seen += [c.pk for c in paginate(ordered(), page=number, page_size=3).items]
    assert sorted(seen) == sorted(c.pk for c in seven_customers)
    assert len(seen) == len(set(seen))


def test_page_past_the_end_is_empty_with_correct_totals(seven_customers, django_assert_num_queries):
    # Only the COUNT: nothing to fetch past the end.
    with django_assert_num_queries(1):
        page = paginate(ordered(), page=99, page_size=3)
    assert page.items == []
    assert (page.total, page.total_pages, page.has_next_page, page.has_prev_page) == (
        7,
        3,
        False,
        True,
    )


def test_empty_result_has_zero_pages():
    page = paginate(ordered(), page=1, page_size=20)
    assert page.items == []
    assert (page.total, page.total_pages, page.has_next_page, page.has_prev_page) == (
        0,
        0,
        False,
        False,
    )


def test_exact_page_multiple(seven_customers):
    assert paginate(ordered(), page=1, page_size=7).total_pages == 1
    assert paginate(ordered(), page=1, page_size=1).total_pages == 7


def test_a_page_costs_one_count_and_one_fetch(seven_customers, django_assert_num_queries):
    # 1: SELECT COUNT(*); 2: the sliced SELECT ... LIMIT 3 OFFSET 3.
    with django_assert_num_queries(2):
        page = paginate(ordered(), page=2, page_size=3)
    assert len(page.items) == 3


@pytest.mark.parametrize(
    ("page", "page_size", "field"),
    [(0, 20, "page"), (-1, 20, "page"), (1, 0, "page_size"), (1, 101, "page_size")],
)
def test_out_of_range_page_or_size_is_a_validation_error(page, page_size, field):
    with pytest.raises(DomainError) as caught:
        paginate(ordered(), page=page, page_size=page_size)
    assert caught.value.code == "VALIDATION_ERROR"
    assert field in caught.value.details


@pytest.mark.django_db
def test_uncounted_pages_know_only_whether_there_is_more(django_assert_num_queries):
    for n in range(7):
        factories.make_customer(last_name=f"Uncounted{n}")
    qs = Customer.objects.filter(last_name__startswith="Uncounted").order_by("last_name", "id")
    with django_assert_num_queries(1):
        first = paginate(qs, page=1, page_size=3, count=False)
    assert [c.last_name for c in first.items] == ["Uncounted0", "Uncounted1", "Uncounted2"]
    assert (first.total, first.total_pages, first.has_next_page) == (None, None, True)
    last = paginate(qs, page=3, page_size=3, count=False)
    assert (len(last.items), last.total, last.total_pages, last.has_next_page) == (1, 7, 3, False)
    past = paginate(qs, page=9, page_size=3, count=False)
    assert (past.items, past.total, past.has_prev_page) == ([], None, True)
    small = paginate(qs, page=1, page_size=10, count=False)
    assert (small.total, small.total_pages, small.has_next_page) == (7, 1, False)
