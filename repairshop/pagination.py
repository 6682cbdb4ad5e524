"""Page-number pagination for the lists (contract §2): one COUNT and one sliced fetch."""

from dataclasses import dataclass
from typing import Any

from repairshop.errors import validation_error

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    page_size: int
    total: int
    total_pages: int  # 0 when total is 0 (contract §2)
    has_next_page: bool
    has_prev_page: bool


def paginate(queryset, *, page: int, page_size: int) -> Page:
    """The `page`-th slice of an ordered queryset, with exact totals. A page past the end is
    empty (and costs no second query)."""
    errors = {}
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        errors["page"] = ["Must be a whole number of at least 1."]
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        errors["page_size"] = [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]
    if errors:
        raise validation_error(errors)

    # count() drops the ordering and any annotation the filters do not use.
    total = queryset.count()
    total_pages = -(-total // page_size)
    offset = (page - 1) * page_size
    items = list(queryset[offset : offset + page_size]) if offset < total else []
    return Page(
        items=items,
        page=page,
        page_size=page_size,
        total=total,
        total_pages=total_pages,
        has_next_page=page < total_pages,
        has_prev_page=page > 1,
    )
