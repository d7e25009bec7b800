"""The package's shape, as ARCHITECTURE.rst draws it: stages depend only downstream,
the non-screen stages never import urwid, every module says its job first and none
grows into a god module."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "celerytop"
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300

#: stage -> the stages it must never import (ARCHITECTURE.rst, "Stages and what they may use").
FORBIDDEN = {
    "present": {"control", "store", "modes", "ui"},  # it formats what events and the model hold
    "events": {"model", "control", "store", "modes", "ui"},
    "model": {"control", "store", "modes", "ui"},
    "control": {"store", "modes", "ui"},
    "store": {"control", "modes", "ui"},
    "modes": {"ui"},
}
#: Outside ui/, only the entry points that start the screen may import urwid.
URWID_ALLOWED = {"ui", "launch", "manpage"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def stage(path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported(path):
    """Every module ``path`` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            if node.module == "celerytop":
                yield from (f"celerytop.{alias.name}" for alias in node.names)


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_module_opens_with_its_job(path):
    tree = ast.parse(path.read_text())
    if path.name == "__init__.py" and not tree.body:
        return
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.strip(), f"{module_name(path)} does not say its job in an opening docstring"


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_no_god_modules(path):
    lines = path.read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module_name(path)} has {lines} lines (at most {MAX_MODULE_LINES})"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_CLASS_LINES, (
                f"{module_name(path)}.{node.name} has {length} lines (at most {MAX_CLASS_LINES})")


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_stages_import_only_downstream(path):
    forbidden = FORBIDDEN.get(stage(path), set())
    for name in imported(path):
        parts = name.split(".")
        if parts[0] == "celerytop" and len(parts) > 1:
            assert parts[1] not in forbidden, f"{module_name(path)} ({stage(path)}) imports {name}"


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_only_the_screen_imports_urwid(path):
    if stage(path) in URWID_ALLOWED:
        return
    for name in imported(path):
        assert name.split(".")[0] != "urwid", f"{module_name(path)} imports {name}"
        assert not name.startswith("celerytop.ui"), f"{module_name(path)} imports {name}"


def test_the_rules_see_the_imports():
    """The checks above read real imports (a rule that sees none cannot fail)."""
    app = PACKAGE / "ui" / "app.py"
    assert "urwid" in set(imported(app))
    assert any(name.startswith("celerytop.ui.") for name in imported(app))
