"""Layers point one way: `config/` imports no app (its `urls.py` aside); the apps import
`worker/` and `safeguards/`, never `config` (and notifications listens to
accounts, never the other way); `safeguards/` and `worker/` import none of
the site's apps, nor each other. Settings may still name anything by dotted path."""

import ast

import pytest
from django.conf import settings

PACKAGES = ["config", "accounts", "notifications", "safeguards", "worker"]
# What each package may import of the others: nothing that isn't listed.
MAY_IMPORT = {
    "config": set(),
    "accounts": {"safeguards", "worker"},
    "notifications": {"accounts", "safeguards", "worker"},  # It listens to accounts' signals.
    "safeguards": set(),
    "worker": set(),
}
# Where the URLs of every app are put together.
EXEMPT = {"config/urls.py"}


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def offenders(package: str) -> dict[str, list[str]]:
    forbidden = set(PACKAGES) - MAY_IMPORT[package] - {package}
    found = {}
    for path in (settings.BASE_DIR / package).rglob("*.py"):
        name = str(path.relative_to(settings.BASE_DIR))
        wrong = sorted(m for m in imported_modules(path) if m.split(".")[0] in forbidden)
        if wrong and name not in EXEMPT:
            found[name] = wrong
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_point_one_way(package):
    assert offenders(package) == {}


def test_the_layer_check_sees_a_wrong_import(tmp_path, monkeypatch):
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "wrong.py").write_text("from accounts.models import User\n")
    monkeypatch.setattr(settings, "BASE_DIR", tmp_path)
    assert offenders("worker") == {"worker/wrong.py": ["accounts.models"]}
