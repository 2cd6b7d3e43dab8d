"""Chaos: members sign up, confirm, register webhooks and save their profiles over real
HTTP while worker processes are killed and PostgreSQL, Redis and the mail server go down
and come back. Once the work has settled, no mail and no webhook may be missing, no task
may be stuck, and the only server errors are the database outage's.

Each engine's run starts servers of its own and takes a few minutes, so it runs in the
PostgreSQL pass of .ci/run only. CHAOS_SEED=<n> replays a run's arrivals and faults (the
processes' own timing still varies). A failed run's logs and summary are kept in
test-results/chaos-<engine>-<seed>/.
"""

import os
import secrets

import pytest
from django.conf import settings
from django.db import connection

from .chaos.run import ChaosRun

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the chaos test runs once per engine, in the PostgreSQL pass "
    "(DATABASE_URL=postgres://... make test)",
)


class Summaries:
    """Writes each run's summary line at the end of pytest's report, passed or failed."""

    def __init__(self):
        self.lines = []

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep("-", "chaos")
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def summaries(pytestconfig) -> list[str]:
    plugin = Summaries()
    pytestconfig.pluginmanager.register(plugin, "chaos-summaries")
    return plugin.lines


@pytest.fixture(scope="session")
def seed() -> int:
    return int(os.environ.get("CHAOS_SEED") or secrets.randbelow(1_000_000))


@pytest.mark.parametrize("engine", ["database", "rq"])
def test_no_mail_or_webhook_is_lost_while_processes_die_and_servers_restart(
    engine, seed, summaries, tmp_path
):
    print(f"chaos {engine}: CHAOS_SEED={seed}")
    problems = ["The run stopped before its checks (see the traceback)."]
    with ChaosRun(engine, seed, tmp_path) as run:
        try:
            run.load()
            problems = run.settle()
        finally:
            print("\n".join(run.timeline))  # Shown with the failure, or with -s.
            summaries.append(run.summary_line())
            if problems:
                kept = settings.BASE_DIR / "test-results" / f"chaos-{engine}-{seed}"
                run.keep_logs(kept, problems)
                problems.append(f"Logs and a summary: {kept.relative_to(settings.BASE_DIR)}/")
    assert not problems, "\n".join(problems)
