"""The rate-limit counters move from the map pages (frontend) to project infrastructure: state only, the
table frontend's first migration made stays as it is."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("frontend", "0002_ratelimitbucket_moved_to_gisapp")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateLimitBucket",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("scope", models.CharField(max_length=32)),
                        ("client", models.CharField(max_length=64)),
                        ("window_start", models.DateTimeField()),
                        ("count", models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        "db_table": "frontend_ratelimitbucket",
                        "indexes": [models.Index(fields=["window_start"], name="ratelimit_window_idx")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("scope", "client", "window_start"), name="ratelimit_window_uniq"
                            )
                        ],
                    },
                )
            ],
            database_operations=[],
        )
    ]
