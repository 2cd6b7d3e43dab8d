# The rate-limit counters moved to the safeguards app, which took over their table.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_user_confirmation_sent_at"),
        ("safeguards", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RateLimitCounter")],
        ),
    ]
