from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="condition",
            field=models.CharField(blank=True, db_default="", default="", max_length=500),
        ),
    ]
