"""The table of the database cache (CACHE_URL=db://..., the production default), created by
`migrate` like every other table, so that no deployment has a step to forget. Where CACHE_URL
names Redis there is nothing to create; a table named after this has run is refused by
intimacy.checks (E004) until `manage.py createcachetable` makes it."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []

    operations = [
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=False),
    ]
