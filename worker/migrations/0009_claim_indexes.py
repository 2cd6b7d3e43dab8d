# The claim's two indexes (CLAIM in worker/engines/database.py), on ready tasks only:
# - those to run at once (no run_after), by queue, in the order they are taken;
# - those to run later (retries waiting their turn), by queue and due time: a claim reads
#   only those whose time has come, then takes them by priority.
# A claim reads the few rows it takes, however many tasks wait or wait for later, and
# however many finished results the table holds (docs/workers.md shows the plan).
# django-tasks-db's own index orders every ready task whatever its queue, so a claim
# through it sorted the whole backlog.
#
# On PostgreSQL they are built CONCURRENTLY: a deploy to a site with a long task table
# doesn't hold up enqueues while they build.

from django.db import migrations, models
from django.db.models import F, Q
from django_tasks_db.models import get_date_max


def indexes():
    return [
        models.Index(
            F("queue_name"),
            F("priority").desc(),
            F("enqueued_at"),
            condition=Q(status="READY", run_after=get_date_max()),
            name="worker_result_ready_at_once",
        ),
        models.Index(
            F("queue_name"),
            F("run_after"),
            condition=Q(status="READY", run_after__lt=get_date_max()),
            name="worker_result_ready_later",
        ),
    ]


def add(apps, schema_editor):
    results = apps.get_model("django_tasks_database", "DBTaskResult")
    for index in indexes():
        if schema_editor.connection.vendor == "postgresql":
            # A build that failed or was cancelled leaves an invalid index: start afresh.
            schema_editor.execute(index.remove_sql(results, schema_editor, concurrently=True))
            schema_editor.execute(index.create_sql(results, schema_editor, concurrently=True))
        else:
            schema_editor.add_index(results, index)


def remove(apps, schema_editor):
    results = apps.get_model("django_tasks_database", "DBTaskResult")
    for index in indexes():
        schema_editor.remove_index(results, index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction.

    dependencies = [
        ("worker", "0008_workers_recovery"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(add, remove, atomic=False)]
