"""config.settings.prod fails closed and passes Django's deployment checklist."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "DATABASE_URL": "postgres://app@db.internal:5432/app",
    "ALLOWED_HOSTS": "example.com",
}


def manage(*args, **env):
    environment = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    env = {**PRODUCTION_ENV, missing: ""}

    result = manage("check", **env)

    assert result.returncode != 0
    assert f"The {missing} environment variable is required" in result.stderr
