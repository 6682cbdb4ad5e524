"""Every ticket has a status from now on, and the rules of contract §12 the database can
hold, as triggers on both backends (the same rules, each backend's dialect):

- a ticket's `completed` is true exactly when its status is in the ready or closed group
  (part 1's field, stored for the indexes and the counts, cannot drift from the status);
- the group of a status a ticket is in cannot change (what the ticket's history and its
  `completed` meant would change with it);
- a group's default (tickets_statusgroupdefault, one row per group) is an active status of
  that group, and stays so.

A status in use cannot be deleted: tickets and history entries reference it (PROTECT, and
the foreign keys themselves). The new tables move the data version on PostgreSQL like the
others (0004_data_version): a board or list shows status labels and moves.
"""

from django.db import migrations, models
import django.db.models.deletion

import tickets.models

COMPLETED_SQL = "(SELECT status_group IN ('ready', 'closed') FROM tickets_status WHERE id = NEW.status_id)"
IN_USE_SQL = "EXISTS (SELECT 1 FROM tickets_ticket WHERE status_id = OLD.id)"
DEFAULT_BROKEN_SQL = (
    "EXISTS (SELECT 1 FROM tickets_statusgroupdefault d WHERE d.status_id = OLD.id"
    " AND (d.status_group <> NEW.status_group OR NOT NEW.active))"
)
DEFAULT_INVALID_SQL = (
    "NOT EXISTS (SELECT 1 FROM tickets_status s WHERE s.id = NEW.status_id"
    " AND s.status_group = NEW.status_group AND s.active)"
)
MESSAGES = {
    "completed": "the completed flag of a ticket must follow the group of its status",
    "in_use": "the group of a status in use cannot change",
    "default_kept": "the default status of a group must stay active and in its group",
    "default_valid": "the default of a group must be an active status of that group",
}

SQLITE_CREATE = [
    f"""CREATE TRIGGER tickets_ticket_completed_insert BEFORE INSERT ON tickets_ticket
WHEN NEW.completed IS NOT {COMPLETED_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["completed"]}'); END""",
    f"""CREATE TRIGGER tickets_ticket_completed_update BEFORE UPDATE OF completed, status_id
ON tickets_ticket WHEN NEW.completed IS NOT {COMPLETED_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["completed"]}'); END""",
    f"""CREATE TRIGGER tickets_status_group_in_use BEFORE UPDATE OF status_group ON tickets_status
WHEN NEW.status_group <> OLD.status_group AND {IN_USE_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["in_use"]}'); END""",
    f"""CREATE TRIGGER tickets_status_default_kept BEFORE UPDATE OF status_group, active
ON tickets_status WHEN {DEFAULT_BROKEN_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["default_kept"]}'); END""",
    f"""CREATE TRIGGER tickets_status_default_insert BEFORE INSERT ON tickets_statusgroupdefault
WHEN {DEFAULT_INVALID_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["default_valid"]}'); END""",
    f"""CREATE TRIGGER tickets_status_default_update BEFORE UPDATE ON tickets_statusgroupdefault
WHEN {DEFAULT_INVALID_SQL}
BEGIN SELECT RAISE(ABORT, '{MESSAGES["default_valid"]}'); END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "tickets_ticket_completed_insert",
        "tickets_ticket_completed_update",
        "tickets_status_group_in_use",
        "tickets_status_default_kept",
        "tickets_status_default_insert",
        "tickets_status_default_update",
    )
]


def _pg_function(name: str, condition: str, message: str, returns: str = "NEW") -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {condition} THEN
        RAISE EXCEPTION '{message}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN {returns};
END
$$;"""


NEW_TABLES = ("tickets_status", "tickets_statustransition", "tickets_statusgroupdefault")

PG_CREATE = "".join(
    [
        _pg_function(
            "tickets_ticket_completed_check",
            f"NEW.completed IS DISTINCT FROM {COMPLETED_SQL}",
            MESSAGES["completed"],
        ),
        _pg_function(
            "tickets_status_group_check",
            f"NEW.status_group <> OLD.status_group AND {IN_USE_SQL}",
            MESSAGES["in_use"],
        ),
        _pg_function("tickets_status_default_kept_check", DEFAULT_BROKEN_SQL, MESSAGES["default_kept"]),
        _pg_function("tickets_status_default_valid_check", DEFAULT_INVALID_SQL, MESSAGES["default_valid"]),
        """
CREATE TRIGGER tickets_ticket_completed BEFORE INSERT OR UPDATE OF completed, status_id
    ON tickets_ticket FOR EACH ROW EXECUTE FUNCTION tickets_ticket_completed_check();
CREATE TRIGGER tickets_status_group_in_use BEFORE UPDATE OF status_group
    ON tickets_status FOR EACH ROW EXECUTE FUNCTION tickets_status_group_check();
CREATE TRIGGER tickets_status_default_kept BEFORE UPDATE OF status_group, active
    ON tickets_status FOR EACH ROW EXECUTE FUNCTION tickets_status_default_kept_check();
CREATE TRIGGER tickets_status_default_valid BEFORE INSERT OR UPDATE
    ON tickets_statusgroupdefault FOR EACH ROW EXECUTE FUNCTION tickets_status_default_valid_check();
""",
        *(
            f"""
CREATE CONSTRAINT TRIGGER repairshop_data_version
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION repairshop_data_version_bump();
CREATE TRIGGER repairshop_data_version_truncate
    AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION repairshop_data_version_bump();
"""
            for table in NEW_TABLES
        ),
    ]
)
PG_DROP = (
    """
DROP TRIGGER IF EXISTS tickets_ticket_completed ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_status_group_in_use ON tickets_status;
DROP TRIGGER IF EXISTS tickets_status_default_kept ON tickets_status;
DROP TRIGGER IF EXISTS tickets_status_default_valid ON tickets_statusgroupdefault;
DROP FUNCTION IF EXISTS tickets_ticket_completed_check();
DROP FUNCTION IF EXISTS tickets_status_group_check();
DROP FUNCTION IF EXISTS tickets_status_default_kept_check();
DROP FUNCTION IF EXISTS tickets_status_default_valid_check();
"""
    + "".join(
        f"""
DROP TRIGGER IF EXISTS repairshop_data_version ON {table};
DROP TRIGGER IF EXISTS repairshop_data_version_truncate ON {table};
"""
        for table in NEW_TABLES
    )
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_default_statuses")]

    operations = [
        migrations.AlterField(
            model_name="ticket",
            name="status",
            field=models.ForeignKey(
                default=tickets.models.new_group_default,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tickets",
                to="tickets.status",
                verbose_name="status",
            ),
        ),
        migrations.RunPython(create, drop),
    ]
