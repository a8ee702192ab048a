"""Serving fixtures: a real database per test (SQLite always, PostgreSQL when it answers).

PostgreSQL gets one throwaway database per test session (per xdist worker), dropped at the
end; each test starts from an empty schema in it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"


def postgres_answers() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session; dropped afterwards."""
    if not postgres_answers():
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    name = f"signpost_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database of each kind, fresh for this test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    url = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def database(database_url: str):
    """A migrated service database."""
    from serving.infra.db import Database, upgrade

    db = Database(database_url)
    upgrade(db)
    yield db
    db.dispose()


# ------------------------------------------------------------------ the running service ------

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingWorld:
    county: object  # tests/conftest.py County
    registry_uri: str
    registry_folder: Path
    recommender_version: str
    early_help_version: str
    people: object  # county.People


@pytest.fixture(scope="session")
def world(small_county, tmp_path_factory) -> ServingWorld:
    """The shared county with champions registered in a throwaway MLflow store."""
    from signpost.settings import Settings

    from .county import (
        fit_early_help,
        fit_signposter,
        pick_people,
        register_early_help,
        register_signposter,
    )

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    settings = Settings(pseudonym_key=small_county.key)
    rec = register_signposter(uri, folder, fit_signposter(small_county.processed))
    eh = register_early_help(uri, folder, fit_early_help(small_county.processed, settings))
    people = pick_people(small_county.raw, small_county.processed, small_county.key, small_county.as_of)
    return ServingWorld(small_county, uri, folder, rec, eh, people)


def service_settings(world: ServingWorld, database_url: str, tmp_path: Path, **overrides):
    from signpost.settings import Settings

    from .county import JWT_KEY

    values = dict(
        data_dir=tmp_path, processed_dir=world.county.processed, pseudonym_key=world.county.key,
        database_url=database_url, jwt_signing_key=JWT_KEY, mlflow_tracking_uri=world.registry_uri,
        registry_poll_seconds=0.2,
    )
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running(settings):
    """The real app with its lifespan (migrations, seeding, model loading) in a TestClient."""
    from fastapi.testclient import TestClient

    from serving.http.app import create_app

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class Tokens:
    """Bearer headers per role; citizens' subjects are their pseudonyms, as `signpost token` issues."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def __call__(self, role: str, subject: str) -> dict[str, str]:
        from serving.domain.auth import issue_for

        return {"Authorization": f"Bearer {issue_for(self.settings, role=role, subject=subject, minutes=30)}"}


@pytest.fixture
def service(world, database_url, tmp_path):
    """(client, tokens, settings) for a fresh database of each kind."""
    settings = service_settings(world, database_url, tmp_path)
    with running(settings) as client:
        yield client, Tokens(settings), settings
