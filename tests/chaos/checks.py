"""What must hold once a chaos run has settled, each failure said in a sentence that names
the member, the delivery or the task, with times in seconds from the start of the load."""

from django.conf import settings
from rq import Queue
from rq.registry import StartedJobRegistry

from config.settings.base import task_queues

from .members import CONFIRM_LINK, RESET_LINK, link_in


def lost_mail(run) -> list[str]:
    """Every account in the database got a confirmation link (a committed signup), and
    every password reset the site accepted got a reset link."""
    mails = {}
    for message in run.smtp.messages:
        mails.setdefault(message["To"], []).append(message)
    users = run.postgres.query("SELECT email, id FROM accounts_user ORDER BY id")
    problems = []
    for email, user_id in users:
        received = mails.get(email, [])
        if not any(link_in(message, CONFIRM_LINK) for message in received):
            problems.append(
                f"{email} (user {user_id}) signed up but got no confirmation link; mails to "
                f"it: {subjects(received)}; its tasks: {tasks_of(run, user_id)}"
            )
    for email in sorted(set(run.story.resets)):
        received = mails.get(email, [])
        if not any(link_in(message, RESET_LINK) for message in received):
            problems.append(
                f"{email} asked for a password reset (answered 302) but got no reset link; "
                f"mails to it: {subjects(received)}; its tasks: {tasks_of(run, dict(users)[email])}"
            )
    return problems


def lost_deliveries(run) -> list[str]:
    """Every delivery row (one per event and endpoint) reached the receiver with its
    webhook-id, and the site knows it did."""
    received = {request.headers.get("webhook-id") for request in run.receiver.received}
    rows = run.postgres.query(
        "SELECT webhook_id, event, status, attempts, last_error, "
        f"{ago('created_at')}, {ago('last_attempt_at')}, {ago('next_attempt_at')} "
        "FROM notifications_delivery ORDER BY id"
    )
    problems = []
    for webhook_id, event, status, attempts, error, created, last, next_at in rows:
        if webhook_id in received and status == "delivered":
            continue
        reached = "reached the receiver" if webhook_id in received else "never reached it"
        problems.append(
            f"delivery {webhook_id} ({event}, made at {run.clock(created)}) {reached}; its row: "
            f"status={status} attempts={attempts} last attempt at {run.clock(last)}, next at "
            f"{run.clock(next_at)}, last_error={error!r}"
        )
    return problems


def stuck_tasks(run) -> list[str]:
    """No task is left RUNNING: the database engine's result rows, RQ's started registries."""
    if run.engine == "database":
        rows = run.postgres.query(
            f"SELECT id, task_path, worker_ids, {ago('started_at')} "
            "FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING' ORDER BY started_at"
        )
        return [
            f"task {pk} ({path}) still RUNNING, started at {run.clock(started)} by {ids[-1:]}"
            for pk, path, ids, started in rows
        ]
    problems = []
    with run.redis.connection() as connection:
        for name in task_queues:
            registry = StartedJobRegistry(queue=Queue(name, connection=connection))
            # cleanup=False: only look. Cleaning up is the workers' job, and a test that
            # did it would hide whether they do.
            for job_id in registry.get_job_ids(cleanup=False):
                problems.append(f"RQ job {job_id} still in the {name} queue's started registry")
    return problems


def unhealthy(run) -> list[str]:
    """`manage.py worker_health <type>` passes for every process type."""
    problems = []
    for process_type in settings.WORKER_PROCESSES:
        code, output = run.worker_health(process_type)
        if code:
            problems.append(f"worker_health {process_type} exits {code}: {output[-500:]}")
    return problems


def server_errors(run) -> list[str]:
    """A 5xx, or no answer at all, only while PostgreSQL was down."""
    database_down = [window for window in run.windows if window.what == "PostgreSQL"]
    problems = []
    for exchange in run.story.exchanges:
        if exchange.status and exchange.status < 500:
            continue
        start, end = exchange.started - run.t0, exchange.ended - run.t0
        if any(window.overlaps(start, end) for window in database_down):
            continue
        during = [window.what for window in run.windows if window.overlaps(start, end)]
        answer = exchange.status or f"no answer ({exchange.error})"
        problems.append(
            f"{answer} to {exchange.member} {exchange.method} {exchange.path[:40]} at "
            f"{start:.1f}-{end:.1f} s, while down: {', '.join(during) or 'nothing'}"
        )
    return problems


def refused_members(run) -> list[str]:
    """A member the site turned away with an answer other than an outage's."""
    return run.story.refusals


def counts(run) -> dict[str, int]:
    [(signups, confirmed)] = run.postgres.query(
        "SELECT count(*), count(email_confirmed_at) FROM accounts_user"
    )
    [(events,)] = run.postgres.query("SELECT count(*) FROM notifications_delivery")
    exchanges = run.story.exchanges if run.story else []
    return {
        "signups": signups,
        "confirmed": confirmed,
        "resets": len(set(run.story.resets)) if run.story else 0,
        "mails": len(run.smtp.messages),
        "events": events,
        "deliveries": len({request.headers.get("webhook-id") for request in run.receiver.received}),
        "kills": len(run.kills),
        "restarts": sum(process.restarts for process in run.supervised.values()),
        "server_errors": sum(1 for e in exchanges if not e.status or e.status >= 500),
    }


def tasks_of(run, user_id: int) -> str:
    """The database engine's task results for a user's mail, to say where it was lost."""
    if run.engine != "database":
        return "see worker.log (RQ keeps no rows)"
    rows = run.postgres.query(
        "SELECT task_path, status, exception_class_path FROM django_tasks_database_dbtaskresult"
        " WHERE task_path LIKE 'accounts.tasks.send_%%' AND args_kwargs -> 'args' ->> 0 = %s"
        " ORDER BY enqueued_at",
        [str(user_id)],
    )
    found = [
        f"{path.rsplit('.', 1)[-1]} {status} {error.rsplit('.', 1)[-1]}".strip()
        for path, status, error in rows
    ]
    return ", ".join(found) or "none"


def ago(column: str) -> str:
    """SQL for how many seconds ago a timestamp was, on the database's clock."""
    return f"EXTRACT(EPOCH FROM now() - {column})"


def subjects(messages) -> list[str]:
    return [str(message["Subject"]) for message in messages]
