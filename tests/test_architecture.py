"""The layering in the README's Layout section, checked: each package imports only the packages
below it, the service's three layers import only downwards, and no module imports itself round a
loop."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> our packages it may import. `signpost` is the shared base (settings, errors,
#: progress, roles); `signpost.cli` is the front door and may import everything. Layers, bottom
#: up: recommender < features < training < serving < signpost.cli.
ALLOWED = {
    "recommender": set(),
    "synthetic": {"signpost", "features"},
    "features": {"signpost"},
    "training": {"signpost", "features", "recommender"},
    "serving": {"signpost", "features", "recommender", "training"},
}
OURS = {"recommender", "synthetic", "features", "training", "serving", "signpost"}
#: Every folder of ours with Python in it: the import-cycle check covers them all.
PACKAGES = sorted(OURS | {"benchmarks"})
#: Inside `serving`, http → domain → infra: each layer may import only the layers after it.
SERVING_LAYERS = ("serving.http", "serving.domain", "serving.infra")
#: Third-party modules the pure domain must not touch (I/O, tracking, web).
NOT_IN_RECOMMENDER = {"mlflow", "fastapi", "sqlalchemy", "duckdb", "pandas", "requests", "httpx"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT, modules: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Every module `path` imports, wherever the statement is (top level, functions, branches).

    Relative imports are resolved against the file's own package. `from package import name`
    imports the module `package.name` when that is one of `modules`, else `package` itself.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}" if module else alias.name
                names.add(submodule if submodule in modules else module)
    return names


def imported_modules(path: Path) -> set[str]:
    """The modules named by `path`'s import statements (absolute imports only: our packages
    always import each other absolutely)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(package: str, root: Path = ROOT) -> list[Path]:
    return sorted(path for path in (root / package).rglob("*.py") if ".venv" not in path.parts)


def import_graph(packages: list[str], root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (only names that are modules or packages of ours)."""
    files = {module_name(path, root): path for package in packages for path in python_files(package, root)}
    return {
        module: {name for name in imports_of(path, root, set(files)) if name in files and name != module}
        for module, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (first module repeated at the end), or None."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))
    return None


def layer_of(module: str) -> int | None:
    for rank, layer in enumerate(SERVING_LAYERS):
        if module == layer or module.startswith(layer + "."):
            return rank
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go up serving's layers (domain → http, infra → domain or http)."""
    found = []
    for module, targets in sorted(graph.items()):
        rank = layer_of(module)
        if rank is None:
            continue
        for target in sorted(targets):
            target_rank = layer_of(target)
            if target_rank is not None and target_rank < rank:
                found.append(f"{module} imports {target} ({SERVING_LAYERS[rank]} may not import "
                             f"{SERVING_LAYERS[target_rank]})")
    return found


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


def test_serving_layers_import_only_downwards() -> None:
    graph = import_graph(["serving"])
    assert {layer_of(module) for module in graph} >= {0, 1, 2}, "serving's three layers are missing"
    outside = sorted(m for m in graph if layer_of(m) is None and m != "serving")
    assert not outside, f"every serving module belongs to http, domain or infra: {outside}"
    violations = layer_violations(graph)
    assert not violations, "serving's layers broken:\n" + "\n".join(violations)


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph(PACKAGES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


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
    bad.write_text("from serving.http.app import create_app\nimport mlflow\n")
    assert {"serving.http.app", "mlflow"} <= imported_modules(bad)


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_finds_a_cycle_through_an_import_inside_a_function(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def late():\n    from .sub import c\n    return c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "import pkg.a\n",
        "pkg/d.py": "from pkg.sub import c\n",  # on no cycle
    })
    graph = import_graph(["pkg"], tmp_path)
    assert graph["pkg.b"] == {"pkg.sub.c"}  # the relative import, resolved
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"pkg.a", "pkg.b", "pkg.sub.c"}
    (tmp_path / "pkg/sub/c.py").write_text("import json\n")
    assert find_cycle(import_graph(["pkg"], tmp_path)) is None


def test_checker_finds_a_layer_violation(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "serving/__init__.py": "",
        "serving/http/__init__.py": "",
        "serving/http/routes.py": "from serving.domain import rules\n",
        "serving/domain/__init__.py": "",
        "serving/domain/rules.py": "from serving.infra.tables import Table\n",
        "serving/infra/__init__.py": "",
        "serving/infra/tables.py": "class Table: ...\n",
    })
    assert layer_violations(import_graph(["serving"], tmp_path)) == []
    (tmp_path / "serving/infra/tables.py").write_text("def rule():\n    from ..domain import rules\n")
    (tmp_path / "serving/domain/rules.py").write_text("from serving.http import routes\n")
    assert layer_violations(import_graph(["serving"], tmp_path)) == [
        "serving.domain.rules imports serving.http.routes (serving.domain may not import serving.http)",
        "serving.infra.tables imports serving.domain.rules (serving.infra may not import serving.domain)",
    ]
