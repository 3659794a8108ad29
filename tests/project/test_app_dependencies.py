"""One-way app dependencies (issue 8): ``people`` knows ``sessions_app``; ``sessions_app``
reaches ``people`` only through the sweep's call into ``people.location`` (and the demo
data command, which needs both)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    ("sessions_app/active_sessions.py", "people.location"),
    ("sessions_app/management/commands/setup_demo_data.py", "people.models"),
}


def people_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "people":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "people"}
    return found


def test_sessions_app_does_not_import_people_except_the_sweep():
    offending = []
    for path in sorted((ROOT / "sessions_app").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        offending += [(relative, module) for module in people_imports(path) if (relative, module) not in ALLOWED]
    assert offending == []
