"""Customer pages (work in progress)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


def _placeholder(request, **kwargs):
    return render(request, "base.html")


customer_list = customer_create = customer_detail = customer_edit = login_required(_placeholder)
customer_deactivate = customer_reactivate = login_required(_placeholder)
