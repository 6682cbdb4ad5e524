"""Staff users, their roles and their API tokens in the admin (managers, docs/api.md §6).

Roles are the groups of accounts.roles; a manager may give or take them but cannot make
anyone a superuser, nor change a superuser or issue a token in a superuser's name, which
would be a way to become one. A token's plain text is shown once, when it is created.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone

from accounts.models import ApiToken, User
from core.activity import record_activity
from core.admin_base import ActivityLoggedAdmin


@admin.register(User)
class UserAdmin(ActivityLoggedAdmin, DjangoUserAdmin):
    activity_object_type = "user"
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "roles",
        "is_active",
        "is_superuser",
        "last_login",
    )
    list_filter = ("groups", "is_active", "is_superuser")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Roles and access", {"fields": ("is_active", "groups", "is_superuser")}),
        ("Single sign-on", {"fields": ("oidc_issuer", "oidc_subject")}),
        ("Important dates", {"fields": ("last_login", "date_joined", "last_assigned_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "groups",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined", "last_assigned_at")
    show_full_result_count = False

    def get_queryset(self, request):
        # One extra query for the roles of the whole page, not one per row.
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def roles(self, user):
        return ", ".join(sorted(group.name for group in user.groups.all())) or "—"

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "oidc_issuer", "oidc_subject"]
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Users are named on tickets and in the log: deactivate them instead.
        return False


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", "Usable"), ("yes", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(ActivityLoggedAdmin):
    activity_object_type = "api_token"
    list_display = ("name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (RevokedFilter,)
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "user__email")
    ordering = ("-created_at", "-id")
    actions = ["revoke_selected"]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("user", "name", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("user", "created_at", "last_used_at", "revoked_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            users = User.objects.filter(is_active=True).order_by("username")
            if not request.user.is_superuser:
                users = users.filter(is_superuser=False)
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row says who had access and when

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, plain = ApiToken.issue(user=obj.user, name=obj.name)
        obj.__dict__.update({f.attname: getattr(token, f.attname) for f in obj._meta.fields})
        # Only the hash is stored: this message is the one time anyone sees the token.
        self.message_user(
            request,
            f"The new API token for {obj.user.get_username()} is {plain} — copy it now, "
            "it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        now = timezone.now()
        revoked = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        ApiToken.objects.filter(pk__in=revoked).update(revoked_at=now)
        for pk in revoked:
            record_activity(
                actor=request.user, action="api_token:revoke", object_type="api_token", object_id=pk
            )
        self.message_user(request, f"Revoked {len(revoked)} token(s).", messages.SUCCESS)
