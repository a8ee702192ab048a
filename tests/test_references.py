"""Comments and docstrings name only files that are in the repository.

A reader told "see serving/domain/audit.py" or "docs/DATA_CONTRACT.md" must find that file in this
checkout, not on the machine of whoever wrote the comment. A reference is a word that looks
like a path to a source or document file (`.md`, `.py`, `.toml`, `.ipynb`, or `.csv` under one
of the repository's folders); it resolves if it exists relative to the repository's root or to
the commenting file's folder or any folder above it. Absolute and `../` paths point outside the
repository and never resolve. Names of files the code writes (`truth/faults.csv`,
`manifest.json`) are not references.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A path-like word ending in a source or document extension; not part of a URL or a longer path.
REFERENCE = re.compile(
    r"(?<![\w/.:~-])((?:\.\./|/)*(?:[\w.-]+/)*[\w-][\w.-]*\.(md|py|toml|ipynb|csv))(?![\w/-])"
)


def python_files(root: Path) -> list[Path]:
    """Tracked and new (not ignored) Python files of the checkout."""
    command = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"]
    listed = subprocess.run(command, cwd=root, capture_output=True, text=True,
                            check=True).stdout.split()
    return [root / name for name in listed if (root / name).is_file()]


def comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and every module, class and function docstring."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    found = [(token.start[0], token.string) for token in tokens if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                found.append((first.lineno, first.value.value))
    return sorted(found)


def resolves(reference: str, extension: str, folder: Path, root: Path) -> bool | None:
    """Whether the reference names an existing file; None when it does not name a repo file."""
    if reference.startswith(("/", "../")):
        return False
    if extension == "csv":  # data files are mostly outputs: only a path into a repo folder counts
        first = reference.split("/", 1)[0]
        if "/" not in reference or not (root / first).is_dir():
            return None
    here = folder
    while True:
        if (here / reference).is_file():
            return True
        if here == root:
            return False
        here = here.parent


def missing_references(files: list[Path], root: Path) -> list[str]:
    """`path:line: reference` for each reference in a comment or docstring that does not resolve."""
    missing = []
    for path in files:
        for line, text in comments_and_docstrings(path.read_text(encoding="utf-8")):
            for match in REFERENCE.finditer(text):
                if resolves(match.group(1), match.group(2), path.parent, root) is False:
                    at = line + text.count("\n", 0, match.start())
                    missing.append(f"{path.relative_to(root).as_posix()}:{at}: {match.group(1)}")
    return missing


def test_a_missing_file_is_found_and_urls_and_outputs_are_not(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "DATA_CONTRACT.md").write_text("contract")
    (tmp_path / "pkg" / "web").mkdir(parents=True)
    (tmp_path / "pkg" / "limits.py").write_text("")
    source = tmp_path / "pkg" / "web" / "pages.py"
    source.write_text(
        '"""The pages (docs/DATA_CONTRACT.md, see limits.py and pkg/limits.py).\n\n'
        'Also DATA_CONTRACT.md and shared/DATA_CONTRACT.md.\n"""\n'
        "# https://example.org/docs/README.md, file:///etc/setup.py and ~/notes.md are not ours\n"
        "# writes truth/faults.csv and manifest.json; reads pkg/missing.csv\n"
        "x = 'strings/that/are/not/comments.py'\n"
        "def f():\n    '''Follows /work/briefs/brief.md and ../shared/DESIGN.md.'''\n"
    )
    assert missing_references([source], tmp_path) == [
        "pkg/web/pages.py:3: DATA_CONTRACT.md",
        "pkg/web/pages.py:3: shared/DATA_CONTRACT.md",
        "pkg/web/pages.py:6: pkg/missing.csv",
        "pkg/web/pages.py:9: /work/briefs/brief.md",
        "pkg/web/pages.py:9: ../shared/DESIGN.md",
    ]


def _top_folder(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else "(root)"


FILES = python_files(ROOT)
FOLDERS = sorted({_top_folder(path) for path in FILES})


@pytest.mark.parametrize("folder", FOLDERS)
def test_comments_name_only_files_in_the_repository(folder: str) -> None:
    missing = missing_references([path for path in FILES if _top_folder(path) == folder], ROOT)
    assert missing == [], "comments name files not in the repository:\n" + "\n".join(missing)
