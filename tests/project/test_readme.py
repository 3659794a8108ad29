"""The README documents every environment variable and points only inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ["README.md", "docs/design.md", "docs/operations.md"]


def variables_read_by(path: str) -> set[str]:
    source = (ROOT / path).read_text(encoding="utf-8")
    names = set(re.findall(r"""os\.environ(?:\.get)?[\(\[]\s*["']([A-Z0-9_]+)["']""", source))
    names |= set(re.findall(r"""env_bool\(\s*["']([A-Z0-9_]+)["']""", source))
    return names


@pytest.mark.parametrize("path", ["ceol/settings.py", "gunicorn.conf.py"])
def test_every_environment_variable_is_in_the_readme_table(path):
    names = variables_read_by(path)
    assert names, "the pattern found nothing: the test itself is broken"
    table = {
        name
        for line in README.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
    }
    assert names - table == set()


@pytest.mark.parametrize("doc", DOCS)
def test_documents_link_only_inside_the_repository(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "shared/SPEC" not in text
    targets = re.findall(r"\]\(([^)]+)\)", text)
    assert targets, f"{doc} has no links to check"
    for target in targets:
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (ROOT / doc).parent.joinpath(target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), target
        assert resolved.exists(), target


def test_readme_links_the_design_and_the_runbook():
    assert "(docs/design.md)" in README and "(docs/operations.md)" in README
