"""The version of the code that built the name table (gazetteer.BUILD_VERSION): a new parser rebuilds it.

`ADD COLUMN IF NOT EXISTS` because development databases of this branch met an earlier draft of 0001
that already had the column; on every other database this is a plain AddField.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("geocoding", "0002_keys_and_triggers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "alter table geocoding_gazetteerstate "
                    "add column if not exists built_version integer not null default 0",
                    "alter table geocoding_gazetteerstate drop column if exists built_version",
                )
            ],
            state_operations=[
                migrations.AddField(
                    model_name="gazetteerstate",
                    name="built_version",
                    field=models.PositiveIntegerField(default=0),
                )
            ],
        )
    ]
