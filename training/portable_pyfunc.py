"""Log a pyfunc that loads anywhere MLflow runs, not only where Signpost is installed.

A registered model is loaded by `mlflow models serve`, a batch job or a Spark UDF in an
environment built from the model's own requirements. Its pickles name classes of
``recommender/`` (any fitted model or scorer) and of its pyfunc module in ``training/``, so both
travel with the model as MLflow ``code_paths``: the whole pure ``recommender/`` package, plus the
pyfunc module and the ``training/`` modules it imports, laid out under their package folder so
the pickled names (``training.recommender_pyfunc.SignpostModel``) resolve. MLflow puts the
model's ``code/`` folder first on ``sys.path`` when it loads the model.

Why ``code_paths`` and not a Signpost wheel logged as an artifact: a wheel carries the product's
declared dependencies (FastAPI, DuckDB, SQLAlchemy, Splink…), so installing it from the model's
requirements installs the whole product (a requirements line cannot say ``--no-deps``); and
building a wheel at every training run needs the source tree and a build backend, which an
installed Signpost does not have. ``code_paths`` copies the modules from wherever Python imports
them. Not ``infer_code_paths`` either: MLflow 3 infers only files under the current directory and
loads the model in a subprocess to see what it imports (slow, and wrong when `signpost train` runs
from elsewhere).

The requirements are the distributions the shipped code imports (imports inside functions
included), pinned to the installed versions (which ``constraints.txt`` fixes). MLflow is pinned as
``mlflow-skinny``: loading and predicting needs neither the tracking server, the UI nor the ML
frameworks that the full ``mlflow`` package brings.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any

import mlflow

#: The distribution that installs our packages (pyproject.toml's project name).
SIGNPOST_DISTRIBUTION = "signpost"
#: Our packages that travel whole: a pickle may name any class in them.
WHOLE_PACKAGES = ("recommender",)
#: Our packages whose modules travel one by one: the pyfunc modules and what they import.
MODULE_PACKAGES = ("training",)
#: Import name -> distribution to pin, where several distributions install the import name.
DISTRIBUTION_OF = {"mlflow": "mlflow-skinny"}


@dataclass(frozen=True)
class ModelCode:
    """What a pyfunc needs beside its pickles: code folders for MLflow and exact pins."""

    code_paths: list[Path]
    requirements: list[str]


def log_portable_pyfunc(
    python_model: mlflow.pyfunc.PythonModel,
    *,
    name: str = "model",
    artifacts: dict[str, str] | None = None,
    signature: Any = None,
    input_example: Any = None,
) -> Any:  # mlflow.models.model.ModelInfo
    """Log ``python_model`` in the active run with its code and pinned requirements."""
    with tempfile.TemporaryDirectory() as staging:
        code = model_code(type(python_model).__module__, Path(staging))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=python_model,
            artifacts=artifacts,
            code_paths=[str(path) for path in code.code_paths],
            signature=signature,
            input_example=input_example,
            pip_requirements=code.requirements,
        )


def model_code(pyfunc_module: str, staging: Path) -> ModelCode:
    """The code paths and pinned requirements of the pyfunc defined in ``pyfunc_module``.

    Modules that travel one by one are copied under ``staging`` at their package path.
    Raises `ValueError` when the shipped code imports one of our modules that does not travel
    (serving, features, the settings…): the model would load only where Signpost is installed.
    """
    distributions = packages_distributions()
    shipped: dict[str, Path] = {}  # module name -> source file, of the modules travelling singly
    whole: set[str] = set()
    third_party: dict[str, str] = {}  # import name -> first module that imports it

    def ours_to_follow(imported: str, importer: str, *, singles: bool) -> str | None:
        """Record ``imported``; return it when it is one of ours to ship singly."""
        top = imported.split(".")[0]
        if top in sys.stdlib_module_names:
            return None
        if set(distributions.get(top, ())) != {SIGNPOST_DISTRIBUTION}:
            third_party.setdefault(top, importer)
            return None
        if top in WHOLE_PACKAGES:
            whole.add(top)
            return None
        if singles and top in MODULE_PACKAGES:
            return imported if _source_or_none(imported) is not None else None
        raise ValueError(
            f"{importer} imports {imported}, which does not travel with the model "
            f"(only {', '.join(WHOLE_PACKAGES)} and single modules of "
            f"{', '.join(MODULE_PACKAGES)} do); move what the model needs there"
        )

    pending = [pyfunc_module]
    while pending:
        module = pending.pop()
        if module not in shipped:
            shipped[module] = _source(module)
            for imported in _imports(shipped[module], module):
                if (follow := ours_to_follow(imported, module, singles=True)) is not None:
                    pending.append(follow)
    for package in sorted(whole):  # a whole package imports only itself and third parties
        root = _source(package).parent
        for path in sorted(root.rglob("*.py")):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            module = ".".join(parts[:-1] if path.name == "__init__.py" else parts)
            for imported in _imports(path, module):
                ours_to_follow(imported, module, singles=False)
            # Staged as new files, so they take this process's umask (owner-only under the CLI)
            # rather than the checkout's modes, which MLflow's copy would keep.
            target = Path(staging, package, *path.relative_to(root).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for module, source in shipped.items():
        parts = module.split(".")
        if source.name == "__init__.py":
            target = Path(staging, *parts, "__init__.py")
        else:
            target = Path(staging, *parts[:-1], f"{parts[-1]}.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    tops = sorted({module.split(".")[0] for module in shipped})
    folders = [Path(staging, package) for package in sorted(whole)]
    folders += [Path(staging, top) if Path(staging, top).is_dir() else Path(staging, f"{top}.py") for top in tops]
    return ModelCode(folders, pinned(third_party, distributions))


def pinned(imports: dict[str, str], distributions: dict[str, list[str]]) -> list[str]:
    """``name==version`` of the installed distribution of each import name (sorted)."""
    pins = set()
    for top, importer in imports.items():
        candidates = distributions.get(top, [])
        if top in DISTRIBUTION_OF:
            candidates = [DISTRIBUTION_OF[top]]
        candidates = sorted(set(candidates))  # a checkout's egg-info may list a distribution twice
        if len(candidates) != 1:
            raise ValueError(
                f"{importer} imports {top}, installed by {candidates or 'no distribution'}: "
                "add the one to pin to DISTRIBUTION_OF"
            )
        pins.add(f"{candidates[0]}=={version(candidates[0])}")
    return sorted(pins, key=str.lower)


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of the modules ``path`` imports, and of ``from x import y`` names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                if node.level else node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _source(module: str) -> Path:
    source = _source_or_none(module)
    if source is None:
        raise ValueError(f"{module} has no Python source file to ship with the model")
    return source


def _source_or_none(module: str) -> Path | None:
    """The module's source file, or None for a name that is not a module (a class, a function)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a name imported from a plain module: `from m import name`
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)
