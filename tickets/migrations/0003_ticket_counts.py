"""Exact ticket counts per (technician, open/completed), kept by a trigger, on PostgreSQL only.

Every list page and API list shows an exact total (contract §2). A COUNT(*) over all tickets
costs a scan of an index of the whole table on every request: ~15 ms at 200k tickets, ten
times that at 2M. The lists whose filters are only "technician" and "open/completed" (the
front desk's open tickets, a technician's queue, the unfiltered API list) read their total
from this table instead: at most 2 × (technicians + 1) rows, summed.

The trigger runs in the writing transaction, so the counts are exactly those of the rows
that transaction sees (a rollback undoes both). Two upserts of one UPDATE are made in key
order so that two reassignments in opposite directions cannot deadlock. TRUNCATE (the test
runner's flush) empties the counts too. Raw bulk loads that bypass triggers (the benchmark's
COPY with session_replication_role=replica) call tickets_ticket_count_rebuild() afterwards.
On SQLite nothing is created and the lists use COUNT(*).
"""

from django.db import migrations

CREATE = """
CREATE TABLE IF NOT EXISTS tickets_ticket_count (
    tech_key bigint NOT NULL,          -- the technician's id, 0 for unassigned
    completed boolean NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tech_key, completed)
);

CREATE OR REPLACE FUNCTION tickets_ticket_count_add(key bigint, done boolean, delta integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO tickets_ticket_count AS c (tech_key, completed, n) VALUES (key, done, delta)
    ON CONFLICT (tech_key, completed) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;

CREATE OR REPLACE FUNCTION tickets_ticket_count_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key bigint;
    new_key bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM tickets_ticket_count_add(coalesce(NEW.tech_id, 0), NEW.completed, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM tickets_ticket_count_add(coalesce(OLD.tech_id, 0), OLD.completed, -1);
    ELSE
        old_key := coalesce(OLD.tech_id, 0);
        new_key := coalesce(NEW.tech_id, 0);
        IF (old_key, OLD.completed) < (new_key, NEW.completed) THEN
            PERFORM tickets_ticket_count_add(old_key, OLD.completed, -1);
            PERFORM tickets_ticket_count_add(new_key, NEW.completed, 1);
        ELSE
            PERFORM tickets_ticket_count_add(new_key, NEW.completed, 1);
            PERFORM tickets_ticket_count_add(old_key, OLD.completed, -1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tickets_ticket_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tickets_ticket_count;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tickets_ticket_count_rebuild() RETURNS void LANGUAGE sql AS $$
    LOCK TABLE tickets_ticket IN SHARE MODE;
    DELETE FROM tickets_ticket_count;
    INSERT INTO tickets_ticket_count (tech_key, completed, n)
        SELECT coalesce(tech_id, 0), completed, count(*) FROM tickets_ticket GROUP BY 1, 2;
$$;

DROP TRIGGER IF EXISTS tickets_ticket_count_insert_delete ON tickets_ticket;
CREATE TRIGGER tickets_ticket_count_insert_delete
    AFTER INSERT OR DELETE ON tickets_ticket
    FOR EACH ROW EXECUTE FUNCTION tickets_ticket_count_row();

DROP TRIGGER IF EXISTS tickets_ticket_count_update ON tickets_ticket;
CREATE TRIGGER tickets_ticket_count_update
    AFTER UPDATE OF tech_id, completed ON tickets_ticket
    FOR EACH ROW
    WHEN (OLD.tech_id IS DISTINCT FROM NEW.tech_id OR OLD.completed IS DISTINCT FROM NEW.completed)
    EXECUTE FUNCTION tickets_ticket_count_row();

DROP TRIGGER IF EXISTS tickets_ticket_count_truncate ON tickets_ticket;
CREATE TRIGGER tickets_ticket_count_truncate
    AFTER TRUNCATE ON tickets_ticket
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_count_truncate();

SELECT tickets_ticket_count_rebuild();
"""

DROP = """
DROP TRIGGER IF EXISTS tickets_ticket_count_insert_delete ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_ticket_count_update ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_ticket_count_truncate ON tickets_ticket;
DROP FUNCTION IF EXISTS tickets_ticket_count_rebuild();
DROP FUNCTION IF EXISTS tickets_ticket_count_truncate();
DROP FUNCTION IF EXISTS tickets_ticket_count_row();
DROP FUNCTION IF EXISTS tickets_ticket_count_add(bigint, boolean, integer);
DROP TABLE IF EXISTS tickets_ticket_count;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_trigram_indexes")]

    operations = [migrations.RunPython(create, drop)]
