"""Ticket pages (docs/api.md §11)."""

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="new"),
    path("queue/", views.technician_queue, name="queue"),
    path("board/", views.board, name="board"),
    path("<int:ticket_id>/", views.ticket_detail, name="detail"),
    path("<int:ticket_id>/status/", views.ticket_status, name="status"),
]
