"""Trigram indexes behind the substring searches, on PostgreSQL only.

Django's icontains compiles to UPPER(col) LIKE UPPER('%term%'), so the index must be on
UPPER(col); a plain gin_trgm_ops index on the column is never used. SQLite has no pg_trgm:
the function returns there, so migrations apply on both and makemigrations stays clean.
"""

from django.db import migrations

TRIGRAM_INDEXES = {
    "ticket_title_trgm": ("tickets_ticket", "title"),
    "ticket_description_trgm": ("tickets_ticket", "description"),
    "ticket_serial_trgm": ("tickets_ticket", "serial_number"),
    "customer_first_name_trgm": ("customers_customer", "first_name"),
    "customer_last_name_trgm": ("customers_customer", "last_name"),
    "customer_email_trgm": ("customers_customer", "email"),
    "customer_phone_trgm": ("customers_customer", "phone"),
}


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin (UPPER("{column}") gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0001_initial"),
        ("customers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_trigram_indexes, drop_trigram_indexes)]
