"""A change counter behind the data version, kept by triggers that run at commit, on
PostgreSQL only.

The lists are rendered once per data version and served from memory until it moves
(core/rendered.py). A version made only of maxima (newest ticket id, latest
updated_at) can miss a change on PostgreSQL: ids and timestamps are taken before commit, so
of two concurrent writes the one with the lower id or the earlier timestamp can commit
last, after a list was already rendered and stored under the maxima the other one set. This
counter moves with every committed change of what a list shows, in commit order:

- Deferred constraint triggers run when their transaction commits; writers queue on the
  counter's row for the moment of their commit only. They are not the last locks the
  transaction takes, though: Django makes every foreign key DEFERRABLE INITIALLY DEFERRED on
  PostgreSQL, so the FK checks run in the same commit-time queue, interleaved with this
  trigger in the order the rows were written, and each takes FOR KEY SHARE on the row it
  references (a ticket's customer and technician, an activity entry's actor). A transaction
  can therefore hold the counter's row while it waits for such a row. It cannot deadlock as
  long as no transaction locks a referenced row FOR UPDATE (which conflicts with FOR KEY
  SHARE) and then needs the counter: the services lock users, customers and tickets
  FOR NO KEY UPDATE (select_for_update(no_key=True)), which does not block FOR KEY SHARE.
- A transaction moves the counter once, however many rows it changes (the row remembers the
  last transaction that bumped it).
- It covers tickets, customers, staff, group membership, permissions and group names, and
  sees writes that skip the ORM's signals or auto_now (update(), update_fields, raw SQL).
  TRUNCATE (the test runner's flush) moves it too.

On SQLite nothing is created: writers are serialised there (BEGIN IMMEDIATE holds the write
lock from the first statement to the commit), so the maxima already follow commit order.
"""

from django.db import migrations

TABLES = (
    "tickets_ticket",
    "customers_customer",
    "accounts_user",
    "accounts_user_groups",
    "accounts_user_user_permissions",
    "auth_group",
    "auth_group_permissions",
)

CREATE = (
    """
CREATE TABLE IF NOT EXISTS repairshop_data_version (
    id smallint PRIMARY KEY CHECK (id = 1),
    n bigint NOT NULL,
    last_xact xid8
);
INSERT INTO repairshop_data_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION repairshop_data_version_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repairshop_data_version
       SET n = n + 1, last_xact = pg_current_xact_id()
     WHERE id = 1 AND last_xact IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;
"""
    + "".join(
        f"""
DROP TRIGGER IF EXISTS repairshop_data_version ON {table};
CREATE CONSTRAINT TRIGGER repairshop_data_version
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION repairshop_data_version_bump();
DROP TRIGGER IF EXISTS repairshop_data_version_truncate ON {table};
CREATE TRIGGER repairshop_data_version_truncate
    AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION repairshop_data_version_bump();
"""
        for table in TABLES
    )
)

DROP = "".join(
    f"""
DROP TRIGGER IF EXISTS repairshop_data_version ON {table};
DROP TRIGGER IF EXISTS repairshop_data_version_truncate ON {table};
"""
    for table in TABLES
) + (
    """
DROP FUNCTION IF EXISTS repairshop_data_version_bump();
DROP TABLE IF EXISTS repairshop_data_version;
"""
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0003_ticket_counts"),
        ("customers", "0001_initial"),
        ("accounts", "0003_user_updated_at"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, drop)]
