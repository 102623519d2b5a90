from django.db import migrations


def load_catalog(apps, schema_editor):
    from apps.catalog.catalog_data import load

    load(apps)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
