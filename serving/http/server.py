"""Running the service under uvicorn: prepare the database once, then start the workers.

Migrations, seeding and key creation happen here in the parent process, before any worker
exists, so N workers never race to create tables or keys; each worker's lifespan then finds
everything in place and only loads data and models.
"""

from __future__ import annotations

import os
import tempfile

from serving.domain.auth import signing_key
from serving.infra import db, processed, seeding
from signpost.errors import UserError
from signpost.settings import Settings

#: The variable `serve` hands its `--host` to the workers in (`serving/http/asgi.py` reads it);
#: a server started another way does not set it, and so offers no development sign-in.
LISTEN_HOST = "SIGNPOST_LISTEN_HOST"


def prepare(settings: Settings) -> dict[str, int]:
    """Migrate the database, create the signing key if needed, seed from the processed folder."""
    database = db.Database(settings.database_url)
    try:
        db.upgrade(database)
        signing_key(settings)
        try:
            data = processed.load(settings.processed_dir)
        except UserError:
            return {}
        return seeding.seed(database, data)
    finally:
        database.dispose()


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    from serving.http.logs import UVICORN_LOG_CONFIG

    if workers < 1:
        raise UserError("--workers must be at least 1")
    prepare(settings)
    os.environ[LISTEN_HOST] = host
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="signpost-metrics-")
    uvicorn.run(
        "serving.http.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=UVICORN_LOG_CONFIG,
        access_log=False,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def demo_sign_ins(settings: Settings) -> list[tuple[str, str, str]]:
    """(label, role, bearer token) for each demo persona: the tokens `signpost demo` prints.

    Subjects are the personas' pseudonyms and staff ids, so no council id is ever printed.
    """
    from datetime import date

    from serving.domain import personas
    from serving.domain.auth import issue

    database = db.Database(settings.database_url)
    try:
        data = processed.load(settings.processed_dir)
        with database.reading() as session:
            chosen = personas.choose(data, session, date.today())
    finally:
        database.dispose()
    key = signing_key(settings)
    return [
        (persona.label, persona.role.value,
         issue(key, role=persona.role, subject=persona.subject, minutes=settings.jwt_lifetime_minutes))
        for persona in chosen
    ]
