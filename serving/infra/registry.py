"""The served models: champions from the MLflow registry, swapped atomically on promotion.

`ModelStore.current` is an immutable `Models`; a poller thread checks the champion aliases
every `settings.registry_poll_seconds`, loads a new version *beside* the one serving, then
replaces the reference in one assignment, so a request sees either the old or the new model,
never a mixture. Without a registry or a champion, recommendations come from demographic
popularity over the processed folder, marked degraded, and `/readyz` says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from serving.infra.ticker import Ticker
from signpost.settings import Settings
from training import tracking

log = logging.getLogger("signpost.registry")

@dataclass(frozen=True)
class Loaded:
    """One served model: the unwrapped pure object and the registry version it came from."""

    model: Any
    version: str


@dataclass(frozen=True)
class Models:
    """What a request reads: never mutated, only replaced."""

    recommender: Loaded | None = None
    early_help: Loaded | None = None
    fallback: Any = None  # popularity Signposter from the processed folder
    problems: tuple[str, ...] = ()  # why the service is degraded, in plain words
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def degraded(self) -> bool:
        return self.recommender is None

    @property
    def signposter(self) -> Any:
        return self.recommender.model if self.recommender is not None else self.fallback

    @property
    def recommender_version(self) -> str:
        if self.recommender is not None:
            return self.recommender.version
        return "popularity-fallback"


def unwrap(pyfunc_model: Any, attribute: str, kind: type | None = None) -> Any:
    """The pure object inside an MLflow pyfunc (`.signposter`, the early-help scorer, ...)."""
    inner = pyfunc_model.unwrap_python_model()
    if hasattr(inner, attribute):
        return getattr(inner, attribute)
    if kind is not None:
        for value in vars(inner).values():
            if isinstance(value, kind):
                return value
    raise LookupError(f"{type(inner).__name__} holds no {attribute!r}")


class Registry:
    """Reads champion versions and loads them through the MLflow gateway (`training.tracking`)."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.mlflow_tracking_uri
        self._client = None

    def _connect(self):
        if self._client is None:
            self._client = tracking.connect(self.uri)
        return self._client

    def champion_version(self, name: str) -> str | None:
        """The version the champion alias points at; None when there is no champion."""
        found = tracking.champion_version(name, self._connect())
        return str(found.version) if found is not None else None

    def load(self, name: str, version: str) -> Any:
        self._connect()
        return tracking.load_model(name, version)


def _signposter(pyfunc_model: Any) -> Any:
    from recommender.signposting import Signposter

    return unwrap(pyfunc_model, "signposter", Signposter)


def _early_help_scorer(pyfunc_model: Any) -> Any:
    from recommender.early_help import EarlyHelpScorer

    return unwrap(pyfunc_model, "scorer", EarlyHelpScorer)


class ModelStore:
    """Holds the current `Models` and refreshes it from the registry."""

    def __init__(
        self,
        settings: Settings,
        *,
        fallback: Callable[[], Any] | None = None,
        on_change: Callable[[Models], None] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = Registry(settings)
        self._make_fallback = fallback
        self._on_change = on_change
        self.current = Models()
        self._lock = threading.Lock()  # one refresh at a time; readers never take it
        self._ticker = Ticker("registry-poller", settings.registry_poll_seconds, self.refresh)

    def _fallback(self) -> Any:
        if self.current.fallback is None and self._make_fallback is not None:
            return self._make_fallback()
        return self.current.fallback

    def refresh(self) -> Models:
        """Check both champion aliases; load what changed; swap in one assignment."""
        with self._lock:
            before = self.current
            problems: list[str] = []
            recommender = self._refresh_one(
                self.settings.recommender_model_name, before.recommender, _signposter, problems
            )
            early_help = self._refresh_one(
                self.settings.early_help_model_name, before.early_help, _early_help_scorer, problems
            )
            fallback = before.fallback
            if recommender is None and fallback is None:
                try:
                    fallback = self._fallback()
                except Exception as error:  # noqa: BLE001 — reported by /readyz
                    problems.append(f"no popularity fallback either: {error}")
            after = Models(
                recommender=recommender,
                early_help=early_help,
                fallback=fallback,
                problems=tuple(problems),
            )
            self.current = after
            changed = (_version(before.recommender), _version(before.early_help)) != (
                _version(recommender), _version(early_help)
            )
            if changed:
                log.info(
                    "models changed",
                    extra={"recommender": _version(recommender), "early_help": _version(early_help)},
                )
            if self._on_change is not None:
                self._on_change(after)
            return after

    def _refresh_one(self, name: str, current: Loaded | None, unwrap_fn, problems: list[str]) -> Loaded | None:
        try:
            version = self.registry.champion_version(name)
        except Exception as error:  # noqa: BLE001 — an unreachable registry must not stop serving
            problems.append(f"registry unreachable for {name}: {_short(error)}")
            if current is not None:
                problems[-1] += f" (still serving version {current.version})"
            return current
        if version is None:
            problems.append(f"{name} has no {tracking.CHAMPION} in the registry: train and promote one")
            return None
        if current is not None and current.version == version:
            return current
        try:
            started = time.perf_counter()
            loaded = Loaded(unwrap_fn(self.registry.load(name, version)), version)
            log.info("model loaded", extra={"model": name, "version": version,
                                            "seconds": round(time.perf_counter() - started, 3)})
            return loaded
        except Exception as error:  # noqa: BLE001
            problems.append(f"could not load {name} version {version}: {_short(error)}")
            return current

    # ------------------------------------------------------------------ polling ------------
    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()


def _version(loaded: Loaded | None) -> str | None:
    return loaded.version if loaded is not None else None


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:200]
