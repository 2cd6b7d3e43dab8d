# Indexes on django-tasks-db's results table for the questions this template asks of it:
# what is running now, and what finished in the last hour (the Background work page and
# /metrics; the hourly prune). The library indexes only the ready rows.

from django.db import migrations, models


def indexes():
    return [
        models.Index(fields=["finished_at"], name="worker_result_finished_at"),
        models.Index(
            fields=["queue_name"],
            condition=models.Q(status="RUNNING"),
            name="worker_result_running",
        ),
    ]


def add(apps, schema_editor):
    results = apps.get_model("django_tasks_database", "DBTaskResult")
    for index in indexes():
        schema_editor.add_index(results, index)


def remove(apps, schema_editor):
    results = apps.get_model("django_tasks_database", "DBTaskResult")
    for index in indexes():
        schema_editor.remove_index(results, index)


class Migration(migrations.Migration):
    dependencies = [
        ("worker", "0005_failures_pausing"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(add, remove)]
