# The rate-limit counters moved here from accounts, with their table as it is: renaming it
# would break the web processes still running the old code during a deploy.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_ratelimitcounter"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateLimitCounter",
                    fields=[
                        ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                        ("count", models.PositiveIntegerField()),
                        (
                            "resets_at",
                            models.FloatField(
                                help_text="When this window ends, in seconds since the epoch."
                            ),
                        ),
                    ],
                    options={"db_table": "accounts_ratelimitcounter"},
                ),
            ],
        ),
    ]
