from django.db import migrations


def seed(apps, schema_editor):
    from layers.defaults import DEFAULT_NETS

    Net = apps.get_model("layers", "Net")
    if Net.objects.exists():
        return
    for nid, code, name, name_en, follows, group, ordering in DEFAULT_NETS:
        Net.objects.create(id=nid, code=code, name=name, name_en=name_en, follows_communities=follows,
                           partition_group=group, ordering=ordering)
    schema_editor.execute("select setval(pg_get_serial_sequence('layers_net', 'id'), 100)")


class Migration(migrations.Migration):
    dependencies = [("layers", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
