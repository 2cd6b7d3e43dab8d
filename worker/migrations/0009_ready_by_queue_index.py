# The claim's index (worker/engines/database.py, CLAIM): a queue's ready tasks in the order
# they are taken, so a claim reads the few rows it takes, however long the queue is.
# django-tasks-db's own index orders all ready tasks, whatever their queue: the claim would
# sort them all first (docs/workers.md shows both plans).

from django.db import migrations, models
from django.db.models import F


def index():
    return models.Index(
        F("queue_name"),
        F("priority").desc(),
        F("run_after"),
        F("enqueued_at"),
        condition=models.Q(status="READY"),
        name="worker_result_ready_by_queue",
    )


def add(apps, schema_editor):
    schema_editor.add_index(apps.get_model("django_tasks_database", "DBTaskResult"), index())


def remove(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("django_tasks_database", "DBTaskResult"), index())


class Migration(migrations.Migration):
    dependencies = [
        ("worker", "0008_workers_recovery"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(add, remove)]
