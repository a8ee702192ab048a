"""Reading the service database at build time: erasures and consent decisions alike.

Both readers open the database through `serving.infra.db.read_service_database`: read-only, never
creating it; no service database yet is None; one that cannot be read stops the build.
"""

from __future__ import annotations

import sqlite3

import pytest

from serving.infra.service_readers import api_consents, erased_pseudonyms
from signpost.errors import UserError

READERS = pytest.mark.parametrize(("read", "what"), [
    (erased_pseudonyms, "erasures"),
    (api_consents, "consent decisions"),
], ids=["erasures", "consents"])


@READERS
def test_no_sqlite_file_means_none_and_none_is_created(tmp_path, read, what):
    missing = tmp_path / "nowhere" / "signpost.db"
    assert read(f"sqlite:///{missing}") is None
    assert not missing.parent.exists()


@READERS
def test_a_database_the_service_never_set_up_holds_nothing(tmp_path, read, what):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # e.g. left by `signpost audit verify` before any service ran
    assert read(f"sqlite:///{empty}") is None


@READERS
def test_an_unreadable_database_stops_the_build(tmp_path, read, what):
    garbage = tmp_path / "signpost.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match=f"cannot read {what} from the service database"):
        read(f"sqlite:///{garbage}")


@READERS
def test_a_database_not_upgraded_says_to_upgrade(tmp_path, read, what):
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    with pytest.raises(UserError, match="signpost db upgrade"):
        read(f"sqlite:///{old}")


@READERS
def test_an_unreachable_server_stops_the_build_without_showing_the_password(read, what):
    with pytest.raises(UserError) as error:
        read("postgresql://signpost:s3cret-pw@127.0.0.1:1/signpost")
    assert f"cannot read {what}" in str(error.value) and "s3cret-pw" not in str(error.value)


@pytest.mark.postgres
@READERS
def test_a_postgresql_database_that_does_not_exist_holds_nothing(postgres_database, read, what):
    missing = postgres_database.rsplit("/", 1)[0] + "/signpost_never_created_here"
    assert read(missing) is None
