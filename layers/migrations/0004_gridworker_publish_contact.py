"""Grid workers choose whether the public map shows their name and work phone (issue 7)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("layers", "0003_road_alley"),
    ]

    operations = [
        migrations.AddField(
            model_name="gridworker",
            name="publish_contact",
            field=models.BooleanField(db_default=False, default=False, verbose_name="公开联系方式"),
        ),
    ]
