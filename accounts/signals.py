"""Keeps User.updated_at moving whenever what a user may do changes.

Saving a user bumps it (auto_now); these receivers cover what a save does not: the user's
groups, the user's own permissions and a group's permissions (every member is bumped). The
permission lookup (accounts.backends) remembers a user's permissions per (id, updated_at),
and the lists' data version (core.rendered.data_version) includes the newest
updated_at, so both see such a change at once, in every process.

Changes made around the ORM's signals (raw SQL, a data migration) are not seen until the
processes restart, as after any deploy."""

from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User

_CHANGES = {"post_add", "post_remove", "post_clear"}


def touch_users(user_ids) -> None:
    User.objects.filter(pk__in=list(user_ids)).update(updated_at=timezone.now())


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def user_access_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in _CHANGES and action != "pre_clear":
        return
    if not reverse:  # user.groups.add(...) / user.user_permissions.set(...)
        if action != "pre_clear":
            touch_users([instance.pk])
        return
    # group.user_set.add(...) / permission.user_set.clear(...): the users named, or for a
    # clear all of them, read before they are gone.
    if action == "pre_clear":
        instance._cleared_user_ids = list(instance.user_set.values_list("pk", flat=True))
    elif action == "post_clear":
        touch_users(getattr(instance, "_cleared_user_ids", []))
    else:
        touch_users(pk_set or [])


@receiver(m2m_changed, sender=Group.permissions.through)
def group_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in _CHANGES:
        return
    if reverse:  # permission.group_set.add(...): the members of the groups named
        if action == "post_clear":
            members = User.objects.all()  # which groups held it is gone by now
        elif pk_set:
            members = User.objects.filter(groups__in=pk_set)
        else:
            return
    else:
        members = User.objects.filter(groups=instance)
    touch_users(members.values_list("pk", flat=True).distinct())


@receiver(pre_delete, sender=Group)
def group_deleted(sender, instance, **kwargs):
    touch_users(instance.user_set.values_list("pk", flat=True))
