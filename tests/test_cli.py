"""Every command of the front door answers --help, and user errors are one clear line."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from signpost.cli import app

runner = CliRunner()


def command_paths(command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in command.commands.items():
            paths.extend(command_paths(sub, prefix + (name,)))
    return paths


PATHS = command_paths(get_command(app))


def test_every_documented_command_is_reachable() -> None:
    expected = {("generate",), ("features",), ("demo",), ("train", "recommender"), ("train", "early-help"),
                ("promote", "recommender"), ("promote", "early-help"), ("evaluate", "recommender"),
                ("evaluate", "early-help"), ("serve",), ("token",), ("audit", "verify"), ("db", "upgrade"),
                ("link",), ("evaluate", "linkage")}
    assert expected <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("command", ["features", "link"])
def test_the_engine_is_a_choice_of_duckdb_or_spark(command: str, tmp_path) -> None:
    assert "<duckdb|spark>" in runner.invoke(app, [command, "--help"], terminal_width=200).output
    result = runner.invoke(app, [command, "--raw", str(tmp_path), "--out", str(tmp_path / "o"),
                                 *(["--as-of", "2026-09-30"] if command == "features" else []), "--engine", "polars"])
    assert result.exit_code == 2 and "'polars' is not one of 'duckdb', 'spark'" in " ".join(
        result.output.replace("│", " ").split())


def test_bad_date_is_a_clear_error(tmp_path) -> None:
    result = runner.invoke(app, ["features", "--raw", str(tmp_path), "--out", str(tmp_path / "o"),
                                 "--as-of", "2025/05/31"])
    assert result.exit_code == 2
    assert "--as-of '2025/05/31' is not an ISO date" in result.output
    assert "Traceback" not in result.output


def test_link_without_partner_records_is_a_clear_error(tmp_path) -> None:
    from synthetic.generate import generate_county

    generate_county(tmp_path / "raw", citizens=20, seed=1)
    result = runner.invoke(app, ["link", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no partner_people.csv" in " ".join(result.output.split()) and "Traceback" not in result.output
