"""Count the conditions on what a text is (labels, end symbols, documents, files) that
live outside the data layer (`charrnn/data/`, where `TextFormat` is).

Issue 37 asks that each layer ask the text's `TextFormat` instead of branching on labels
and documents itself; this lists every such branch, so the count can be held down
(`tests/test_architecture.py`):

    python scripts/format_rules.py          # the count, then file:line of each
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "charrnn"
ABOUT_FORMAT = re.compile(r"labels?|label_\w+|\w+_labels?|end_id|end_symbol|documents|files"
                          r"|many_files|stream_of_files|after_end|opening")
OUTSIDE = ("data",)  # the data layer, TextFormat's home


def _tests(tree: ast.AST):
    """Every expression a branch is decided by: if / elif / while / a conditional
    expression / a comprehension's if / assert."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs


def _names(expr: ast.AST) -> set[str]:
    """The names, attributes and strings an expression reads (a bare `files` is a list
    of some files, not the corpus's; `.files` is)."""
    found = set()
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and node.id != "files":
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def format_conditions(package: Path = PACKAGE) -> list[str]:
    """"file:line" of each condition on the text's format outside the data layer."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] in OUTSIDE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for test in _tests(tree):
            if any(ABOUT_FORMAT.fullmatch(name) for name in _names(test)):
                found.append(f"charrnn/{relative}:{test.lineno}")
    return sorted(set(found))


if __name__ == "__main__":
    conditions = format_conditions()
    print(len(conditions))
    print("\n".join(conditions))
    sys.exit(0)
