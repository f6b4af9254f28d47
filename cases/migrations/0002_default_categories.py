from django.db import migrations


def seed(apps, schema_editor):
    from cases.seed import category_rows

    Category = apps.get_model("cases", "Category")
    if Category.objects.exists():
        return
    for cid, code, name, name_en, kind, parent_id, hours in category_rows():
        Category.objects.create(id=cid, code=code, name=name, name_en=name_en, kind=kind, parent_id=parent_id,
                                deadline_hours=hours)
    schema_editor.execute("select setval(pg_get_serial_sequence('cases_category', 'id'), 1000)")


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
