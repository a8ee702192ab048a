"""The layering in the README's Layout section, checked: a package imports only those below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> our packages it may import. `signpost` is the shared base (settings, errors,
#: progress); `signpost.cli` is the front door and may import everything.
ALLOWED = {
    "recommender": set(),
    "synthetic": {"signpost", "features"},
    "features": {"signpost"},
    "training": {"signpost", "features", "recommender"},
    "serving": {"signpost", "features", "recommender"},
}
OURS = {"recommender", "synthetic", "features", "training", "serving", "signpost"}
#: Third-party modules the pure domain must not touch (I/O, tracking, web).
NOT_IN_RECOMMENDER = {"mlflow", "fastapi", "sqlalchemy", "duckdb", "pandas", "requests", "httpx"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_layers_below(package: str) -> None:
    violations = []
    for path in python_files(package):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in OURS and top != package and top not in ALLOWED[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
            if top == "signpost" and module.startswith("signpost.cli"):
                violations.append(f"{path.relative_to(ROOT)} imports the CLI front door")
    assert not violations, "layering broken:\n" + "\n".join(violations)


def test_recommender_is_pure() -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files("recommender")
        for module in imported_modules(path)
        if module.split(".")[0] in NOT_IN_RECOMMENDER
    ]
    assert not violations, "recommender/ must stay free of I/O and frameworks:\n" + "\n".join(violations)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from serving.app import create_app\nimport mlflow\n")
    assert {"serving.app", "mlflow"} <= imported_modules(bad)
