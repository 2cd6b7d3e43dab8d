"""The README and docs/ name files and pages; a rename must not leave them pointing nowhere."""

import re

import pytest
from django.conf import settings

BASE_DIR = settings.BASE_DIR
PAGES = [
    BASE_DIR / "README.md",
    BASE_DIR / "worker" / "README.md",
    *sorted((BASE_DIR / "docs").glob("*.md")),
]

# `accounts/tasks.py`, `templates/accounts/check_inbox.html`, `tests/e2e/`: a backticked
# path under one of the project's own folders (URLs and module paths don't match).
PROJECT_DIRS = (
    "accounts",
    "bench",
    "config",
    "docs",
    "notifications",
    "peers",
    "safeguards",
    "static",
    "templates",
    "tests",
    "worker",
)
CODE_PATH = re.compile(rf"`((?:{'|'.join(PROJECT_DIRS)})/[\w./-]*)`")
LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


def code_paths(text):
    return [path.split(" ")[0] for path in CODE_PATH.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_path_a_page_names_exists(page):
    missing = [path for path in code_paths(page.read_text()) if not (BASE_DIR / path).exists()]
    assert missing == [], f"{page.name} names paths that don't exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_between_pages_resolves(page):
    broken = [link for link in LINK.findall(page.read_text()) if not (page.parent / link).exists()]
    assert broken == [], f"{page.name} links to pages that don't exist: {broken}"


def test_readme_links_every_docs_page():
    readme = (BASE_DIR / "README.md").read_text()
    pages = [page.relative_to(BASE_DIR) for page in PAGES[1:]]
    unlinked = [str(page) for page in pages if f"({page})" not in readme]
    assert unlinked == [], f"docs pages the README doesn't link: {unlinked}"
