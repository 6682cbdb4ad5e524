"""The activity log: who did what to which object, for every write (docs/api.md §7)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ActivityLog(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activity",
    )
    action = models.CharField(max_length=64)  # "customer:create", "ticket:status_change", ...
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.BigIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "activity entry"
        verbose_name_plural = "activity log"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["object_type", "object_id", "-created_at"], name="activity_object_idx"
            ),
            models.Index(fields=["action", "-created_at"], name="activity_action_idx"),
        ]

    def __str__(self):
        return f"{self.action} {self.object_type}#{self.object_id}"
