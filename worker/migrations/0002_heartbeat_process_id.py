from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("worker", "0001_heartbeat"),
    ]

    operations = [
        # Heartbeats only describe running processes: a deploy that migrates can drop them.
        migrations.DeleteModel(name="Heartbeat"),
        migrations.CreateModel(
            name="Heartbeat",
            fields=[
                ("process_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("worker_id", models.CharField(db_index=True, max_length=64)),
                ("queues", models.CharField(max_length=255)),
                ("hostname", models.CharField(max_length=255)),
                ("pid", models.PositiveIntegerField()),
                ("started_at", models.DateTimeField()),
                ("seen_at", models.DateTimeField(db_index=True)),
            ],
            options={"ordering": ["process_id"]},
        ),
    ]
