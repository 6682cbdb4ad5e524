"""The four roles of docs/api.md §6 and exactly the permissions each one holds.

The data migration that creates the groups and the permission tests both read this table,
so the matrix is written once.
"""

MANAGER = "manager"
FRONTDESK = "frontdesk"
TECHNICIAN = "technician"
VIEWER = "viewer"
ROLES = (MANAGER, FRONTDESK, TECHNICIAN, VIEWER)

# "app_label.codename" for every permission a role holds.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    MANAGER: frozenset(
        {
            "customers.view_customer",
            "customers.add_customer",
            "customers.change_customer",
            "customers.delete_customer",  # deactivate; nothing is hard-deleted
            "tickets.view_ticket",
            "tickets.add_ticket",
            "tickets.change_ticket",
            "tickets.view_all_tickets",
            "tickets.update_all_tickets",
            "tickets.change_ticket_status",
            "tickets.override_status_rules",
            "tickets.hand_over_devices",
            "tickets.view_status",
            "tickets.add_status",
            "tickets.change_status",
            "tickets.delete_status",  # only a status no ticket was ever in (PROTECT)
            "tickets.view_notification",
            "accounts.access_admin",
            "accounts.view_user",
            "accounts.add_user",
            "accounts.change_user",
            "auth.view_group",
            "accounts.view_apitoken",
            "accounts.add_apitoken",
            "accounts.change_apitoken",
            "repairshop.view_activitylog",
        }
    ),
    FRONTDESK: frozenset(
        {
            "customers.view_customer",
            "customers.add_customer",
            "customers.change_customer",
            "tickets.view_ticket",
            "tickets.add_ticket",
            "tickets.change_ticket",
            "tickets.view_all_tickets",
            "tickets.update_all_tickets",
            "tickets.change_ticket_status",
            "tickets.hand_over_devices",
        }
    ),
    TECHNICIAN: frozenset(
        {
            "customers.view_customer",
            "tickets.view_ticket",
            "tickets.change_ticket_status",
        }
    ),
    VIEWER: frozenset(
        {
            "customers.view_customer",
            "tickets.view_ticket",
            "tickets.view_all_tickets",
        }
    ),
}
