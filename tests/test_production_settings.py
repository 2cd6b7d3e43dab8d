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


@pytest.mark.parametrize(
    "weak", ["change-me-to-50-random-characters", "django-insecure-" + "k" * 50, "x" * 60]
)
def test_production_refuses_a_weak_secret_key(weak):
    result = manage("check", **{**PRODUCTION_ENV, "SECRET_KEY": weak})

    assert result.returncode != 0
    assert "SECRET_KEY is too weak for production" in result.stderr


def settings_seen_by(command_env):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; "
        "print(settings.SETTINGS_MODULE, settings.DEBUG, settings.TRUSTED_PROXY_COUNT)",
        **command_env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1].split()


def test_procfile_process_with_only_the_required_variables_runs_production():
    # What a platform starts: the Procfile's command, the three required variables, and
    # no DJANGO_SETTINGS_MODULE.
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DJANGO_SETTINGS_MODULE"}

    module, debug, proxies = settings_seen_by(env)

    assert module == "config.settings.prod"
    assert debug == "False"
    # No proxy is assumed: X-Forwarded-For is the client's own until a platform says so.
    assert proxies == "0"


@pytest.mark.parametrize("only", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_any_production_variable_alone_refuses_to_start_rather_than_run_development(only):
    result = manage("check", **{only: PRODUCTION_ENV[only]})

    assert result.returncode != 0
    assert "environment variable is required in production" in result.stderr
    assert "DJANGO_SETTINGS_MODULE=config.settings.dev" in result.stderr


def test_a_developer_without_production_variables_gets_development_settings():
    module, debug, _ = settings_seen_by({})

    assert (module, debug) == ("config.settings.dev", "True")


def test_env_example_names_the_settings_module():
    example = (settings.BASE_DIR / ".env.example").read_text()

    assert "DJANGO_SETTINGS_MODULE=config.settings.prod" in example
    assert "TRUSTED_PROXY_COUNT=0" in example


@pytest.mark.parametrize("hosts", ["*", ".example.com"])
def test_a_host_pattern_without_site_url_refuses_to_start(hosts):
    # Every link in every email would point at https://* otherwise.
    result = manage("check", **{**PRODUCTION_ENV, "ALLOWED_HOSTS": hosts})

    assert result.returncode != 0
    assert "The SITE_URL environment variable is required" in result.stderr
    assert (
        manage(
            "check", **{**PRODUCTION_ENV, "ALLOWED_HOSTS": hosts, "SITE_URL": "https://example.com"}
        ).returncode
        == 0
    )


SHOW = "from django.conf import settings as s; print(sorted(s.INSTALLED_APPS + s.MIDDLEWARE))"


def test_the_debug_toolbar_is_in_development_settings_only():
    development = manage("shell", "-c", SHOW, DJANGO_SETTINGS_MODULE="config.settings.dev")
    production = manage("shell", "-c", SHOW, **PRODUCTION_ENV)

    assert "'debug_toolbar'" in development.stdout, development.stderr
    assert "debug_toolbar" not in production.stdout and production.returncode == 0


def test_metrics_refuse_a_short_token_in_production():
    result = manage("check", **PRODUCTION_ENV, METRICS_TOKEN="short")

    assert result.returncode != 0
    assert "METRICS_TOKEN is too short" in result.stderr
