from django.db import migrations


class Migration(migrations.Migration):
    """Where tiles.schema.sync() records which generated tables and triggers are installed.

    The tables and triggers themselves are generated from the layer registry and installed after every
    `migrate` (see tiles.apps), so that changing a layer's zoom bands needs no hand-written migration.
    """

    initial = True
    dependencies = [
        ("layers", "0002_default_nets"),
        ("cases", "0002_default_categories"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE tiles_state (key text PRIMARY KEY, value text NOT NULL)",
            "DROP TABLE tiles_state",
        ),
    ]
