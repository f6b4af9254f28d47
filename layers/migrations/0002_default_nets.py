from django.db import migrations


def seed(apps, schema_editor):
    from layers.defaults import create_default_nets

    Net = apps.get_model("layers", "Net")
    if not Net.objects.exists():
        create_default_nets(Net)


class Migration(migrations.Migration):
    dependencies = [("layers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
