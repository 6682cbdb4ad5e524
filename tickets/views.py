"""Ticket pages (work in progress)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render


@login_required
def home(request):
    return redirect("tickets:list")


def _placeholder(request, **kwargs):
    return render(request, "base.html")


ticket_list = ticket_create = technician_queue = login_required(_placeholder)
ticket_detail = ticket_status = login_required(_placeholder)
