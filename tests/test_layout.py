"""The folders show the architecture: the shared library and operations import no feature
app, the project or the demo (checked on the source, so a new import cannot slip in)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FEATURE_APPS = {"accounts", "customers", "tickets", "demo", "repairshop", "bench", "tests"}
LIBRARIES = {"core": FEATURE_APPS | {"ops"}, "ops": FEATURE_APPS}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_the_shared_library_and_operations_import_no_feature_app(library):
    modules = sorted((ROOT / library).rglob("*.py"))
    assert len(modules) >= 5, modules
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & LIBRARIES[library])
        for path in modules
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "planted.py"
    module.write_text("def f():\n    from tickets.models import Ticket\n    return Ticket\n")
    assert imported_packages(module) & FEATURE_APPS == {"tickets"}


@pytest.mark.parametrize("app", ["customers", "tickets"])
def test_every_feature_app_has_the_same_modules(app):
    modules = {path.stem for path in (ROOT / app).glob("*.py")}
    expected = {"models", "services", "queries", "forms", "views", "api", "admin", "urls"}
    assert expected <= modules, expected - modules
