"""Layers point one way: apps import `worker/`, never `config`; `worker/`
imports nothing of the site's apps. Settings may still name anything by dotted path."""

import ast

import pytest
from django.conf import settings

APPS = ["accounts", "notifications", "worker"]
SITE_APPS = ["accounts", "notifications"]


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def imports_of(app: str) -> dict[str, set[str]]:
    return {
        str(path.relative_to(settings.BASE_DIR)): imported_modules(path)
        for path in (settings.BASE_DIR / app).rglob("*.py")
    }


def top_level(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("app", APPS)
def test_no_app_imports_config(app):
    offenders = {
        path: sorted(module for module in modules if top_level(module) == "config")
        for path, modules in imports_of(app).items()
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_worker_imports_nothing_of_the_sites_apps():
    offenders = {
        path: sorted(module for module in modules if top_level(module) in SITE_APPS)
        for path, modules in imports_of("worker").items()
    }
    assert {path: found for path, found in offenders.items() if found} == {}
