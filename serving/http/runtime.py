"""The running service's parts, built once per process and shared by the API and the pages.

The composition root: it wires the stores and clients of `serving.infra` and the parts of
`serving.domain` that keep state (the token reader, the recommendation batcher) together, and
hands them to the routes; the domain's functions take the parts they need as arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from serving.domain.access import Person
from serving.domain.auth import TokenReader, signing_key
from serving.domain.errors import Unavailable
from serving.domain.recommendations import Batcher
from serving.infra import db, metrics, processed, seeding
from serving.infra.db import Database
from serving.infra.limits import Limits
from serving.infra.oidc import OpenIdProvider
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models, ModelStore
from serving.infra.revocations import Revocations
from serving.infra.served import ServedLog
from serving.infra.tables import Erasure
from signpost.errors import UserError
from signpost.settings import Settings

log = logging.getLogger("signpost.runtime")


@dataclass
class Runtime:
    settings: Settings
    database: Database
    tokens: TokenReader
    limits: Limits
    store: ModelStore
    served: ServedLog
    revocations: Revocations
    batcher: Batcher
    processed: ProcessedData | None = None
    pseudonym_key: bytes | None = None
    problems: list[str] = field(default_factory=list)  # why not ready (processed data, key)
    _pseudonymiser: tuple | None = field(default=None, repr=False)  # (key, prepared one-id function)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        database = Database(settings.database_url)
        revocations = Revocations(database, poll_seconds=settings.revocation_poll_seconds,
                                  lifetime_minutes=settings.jwt_lifetime_minutes)
        runtime = cls(
            settings=settings,
            database=database,
            tokens=TokenReader(signing_key(settings), revoked=revocations,
                               provider=OpenIdProvider(settings) if settings.oidc_issuer else None),
            limits=Limits(settings),
            store=None,  # type: ignore[arg-type] — set below, it needs the runtime for its fallback
            served=ServedLog(database, retention=timedelta(days=settings.served_retention_days)),
            revocations=revocations,
            batcher=Batcher(database, settings),
        )
        runtime.store = ModelStore(settings, fallback=runtime._popularity, on_change=metrics.models_changed)
        return runtime

    # ------------------------------------------------------------------ lifecycle --------
    def start(self, *, migrate: bool = True) -> None:
        """Migrate, load revocations and the processed folder, seed the ledger, load models, start pollers."""
        if migrate:
            db.upgrade(self.database)
        self.revocations.refresh()  # before the first request: a revoked token never slips through
        self._load_processed()
        if self.processed is not None:
            seeding.seed(self.database, self.processed)
        self.store.refresh()
        self._forget_erased(self.store.current)
        self.store.start()
        self.served.start()
        self.revocations.start()

    def stop(self) -> None:
        self.revocations.stop()
        self.store.stop()
        self.served.stop()
        self.database.dispose()

    def _load_processed(self) -> None:
        from features.pseudonym import key_id, load_key

        self.problems.clear()
        try:
            self.processed = processed.load(self.settings.processed_dir)
        except UserError as error:
            self.problems.append(str(error))
            return
        try:
            self.pseudonym_key = load_key(self.settings, create=False)
        except UserError as error:
            self.problems.append(str(error))
            return
        expected = self.processed.pseudonym_key_id
        if expected and key_id(self.pseudonym_key) != expected:
            self.problems.append(
                "the pseudonym key differs from the one the processed folder was built with "
                f"(manifest key id {expected}); use the same SIGNPOST_PSEUDONYM_KEY or rebuild"
            )
            self.pseudonym_key = None

    def _popularity(self):
        """Demographic popularity over the processed folder: the degraded-mode recommender."""
        if self.processed is None:
            raise Unavailable("no processed folder loaded")
        from recommender.signposting import Signposter

        p = self.processed
        return Signposter.from_processed_tables(
            p.citizens.reset_index(drop=True), p.services.reset_index(drop=True), p.interactions,
            model_name="demographic_popularity",
        )

    def _forget_erased(self, models: Models) -> None:
        """Served state must not hold erased people (a fresh model load starts from the build)."""
        from sqlalchemy import select

        with self.database.reading() as session:
            erased = list(session.scalars(select(Erasure.pseudonym)))
        for signposter in {id(s): s for s in (models.recommender and models.recommender.model, models.fallback) if s}.values():
            if erased:
                signposter.forget(erased)

    # ------------------------------------------------------------------ helpers ----------
    def person_pseudonym(self, raw_id: str) -> str:
        """Pseudonymise a council person id at the edge (never stored or logged raw)."""
        key = self.pseudonym_key
        if key is None:
            raise Unavailable("the service cannot pseudonymise person ids: " + "; ".join(self.problems or ["no key"]))
        prepared = self._pseudonymiser
        if prepared is None or prepared[0] is not key:  # the key pads are derived once per key, not per request
            from features.pseudonym import pseudonymiser

            prepared = self._pseudonymiser = (key, pseudonymiser(key, "person"))
        return prepared[1](raw_id)

    def household_pseudonym(self, raw_id: str) -> str:
        """Pseudonymise a council household reference at the edge (never stored or logged raw)."""
        if self.pseudonym_key is None:
            raise Unavailable("the service cannot pseudonymise references: " + "; ".join(self.problems or ["no key"]))
        from features.pseudonym import pseudonymise

        return pseudonymise([raw_id], self.pseudonym_key, "household")[0]

    def person(self, pseudonym: str) -> Person:
        """A person as the current build knows them (household, whether they are in it)."""
        data = self.processed
        known = data is not None and data.knows(pseudonym)
        return Person(pseudonym, data.household_of(pseudonym) if known else None, known)

    def require_processed(self) -> ProcessedData:
        if self.processed is None:
            raise Unavailable("the processed folder is not loaded: " + "; ".join(self.problems))
        return self.processed

    @staticmethod
    def today() -> date:
        return date.today()
