"""The rate-limit counters now belong to gisapp.ratelimit: removed from this app's state, the table kept."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("frontend", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RateLimitBucket")], database_operations=[]
        )
    ]
