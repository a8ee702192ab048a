"""Admin promotion from the analyst pages, through exactly the gates the CLI applies.

The page calls the same functions as `signpost promote recommender|early-help`
(`training.recommender_promotion.promote`, `training.early_help.promote`), in this process,
and shows every gate passed or failed with its sentence. A web promotion never forces:
overriding a gate stays a deliberate act at the command line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from serving.domain import audit
from serving.domain.access import Action, Refused
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Conflict, NotFound
from serving.infra.db import Database
from serving.infra.registry import ModelStore
from signpost.settings import Settings
from training import tracking

#: Analyst-page slug -> the settings field holding the registered model's name.
MODELS = {"recommender": "recommender_model_name", "early-help": "early_help_model_name"}
_running = threading.Lock()


@dataclass(frozen=True)
class PromotionOutcome:
    slug: str
    version: str  # the version the admin asked to promote (the challenger they saw)
    promoted: bool
    champion_after: str | None
    checks: list[tuple[bool, str]]  # every gate: (passed, what it found)
    output: str  # the same in full, as `signpost promote` words it (with the comparison, if any)


def promote(database: Database, store: ModelStore, viewer: Viewer, slug: str, version: str, *,
            settings: Settings) -> PromotionOutcome:
    """An admin runs the challenger of `slug` through its gates (never forced), one promotion at
    a time; the attempt is audited, and a new champion is served by this worker at once (the
    others pick it up within a registry poll)."""
    if viewer.role is not Role.admin:
        raise Refused("only an administrator may promote a model", action=Action.models, code="role")
    if slug not in MODELS:
        raise NotFound(f"there is no model called {slug!r}")
    if not _running.acquire(blocking=False):
        raise Conflict("another promotion is running; wait for it to finish and reload the page")
    try:
        if slug == "recommender":
            promoted, checks, lines, challenger = _recommender(settings)
        else:
            promoted, checks, lines, challenger = _early_help(settings)
    finally:
        _running.release()
    found = tracking.champion_version(getattr(settings, MODELS[slug]), tracking.connect(settings.mlflow_tracking_uri))
    after = str(found.version) if found is not None else None
    lines.append(f"version {challenger} is now champion" if promoted else f"version {challenger} was not promoted")
    outcome = PromotionOutcome(slug, version, promoted and after == version, after, checks, "\n".join(lines))
    with database.write_session() as session:
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="model.promote",
                     subject=None, detail={"model": slug, "version": version, "promoted": outcome.promoted,
                                           "champion": after})
    if outcome.promoted:
        store.refresh()
    return outcome


Gates = tuple[bool, list[tuple[bool, str]], list[str], str]  # promoted, checks, output lines, challenger


def _recommender(settings: Settings) -> Gates:
    from training.recommender_promotion import promote as promote_recommender

    decision = promote_recommender(settings.processed_dir, force=False, settings=settings)
    lines = [decision.table.to_string(index=False, float_format=lambda v: f"{v:.3f}")] if not decision.table.empty else []
    lines.append(decision.reason)
    return decision.promoted, [(decision.promoted, decision.reason)], lines, decision.challenger


def _early_help(settings: Settings) -> Gates:
    from training.early_help import promote as promote_early_help

    decision = promote_early_help(settings, force=False)
    checks = [(True, check) for check in decision.checks] + [(False, reason) for reason in decision.reasons]
    lines = [f"{'pass' if passed else 'fail'} {text}" for passed, text in checks]
    return decision.promoted, checks, lines, decision.version
