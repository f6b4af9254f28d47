from django.db import migrations


def seed(apps, schema_editor):
    from cases.seed import CATEGORY_COLUMNS, category_rows

    Category = apps.get_model("cases", "Category")
    if Category.objects.exists():
        return
    known = {f.attname for f in Category._meta.concrete_fields}
    for row in category_rows():
        Category.objects.create(**{k: v for k, v in zip(CATEGORY_COLUMNS, row) if k in known})
    schema_editor.execute("select setval(pg_get_serial_sequence('cases_category', 'id'), 1000)")


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
