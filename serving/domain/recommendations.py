"""Recommendations for one person at request time: consent, new events and feedback folded in.

The served model was fitted on the last build; what happened since comes from the service
database on every request — a withdrawn consent switches the list to non-personalised
popularity at once, new events join the person's history, "not for me" removes a service —
all without retraining.

`for_person` is the one answer path: the API and the pages both call it. Behind it, a
`Batcher` answers requests that arrive together with one ledger query and one vectorised
model call (a model call for one person costs about 250 us, mostly fixed numpy and scipy
overhead; for each of 32 together about 30 us).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

from serving.domain import access, audit, consent
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Gone, NotFound, Unavailable
from serving.domain.events import source_purposes
from serving.infra import citizen_state, metrics
from serving.infra.citizen_state import CitizenState
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models
from serving.infra.served import ServedLog
from signpost.settings import Purpose, Settings

NOTICE_PERSONALISED = "Suggested for you from the services you use."
NOTICE_NO_CONSENT = (
    "Not personalised: you have not agreed to personalisation, so these are services popular "
    "with people of your age in your area. You can choose to share your data in \"Your choices about your data\"."
)
NOTICE_NO_HISTORY = "Not personalised yet: these are services popular with people of your age in your area."
NOTICE_DEGRADED = (
    "Not personalised: the recommendation model is unavailable, so these are services popular "
    "with people of your age in your area."
)
MEANS_TESTED_NOTE = "Means-tested: check whether you qualify before applying."
MEMO_SIZE = 100_000  # suggestions kept per build (a few MB)


@dataclass(frozen=True)
class Suggestion:
    """One suggested service as a reader sees it (fields in the order the API shows them)."""

    rank: int
    service_id: str
    name: str
    category: str | None
    provider: str | None
    reason: str  # plain English; never mentions anyone else's data
    means_tested: bool
    eligibility_note: str | None
    url: str | None
    # The full reason (may name the person's own sensitive services) and whether the service is
    # sensitive: for the person's own page only, after they ask "why"; no API schema carries them.
    own_reason: str = ""
    sensitive: bool = False

    def reason_for(self, *, own_page: bool, show_why: bool) -> str:
        """The form a viewer may see: the full one only on the person's own page after "show why"."""
        return self.own_reason or self.reason if own_page and show_why else self.reason


@dataclass(frozen=True)
class Recommendations:
    """The answer to "what services for this person?", labelled with what kind of list it is."""

    model_version: str  # registry version, or "popularity-fallback"
    model: str  # kind of model, e.g. "ease", "demographic_popularity"
    personalised: bool
    degraded: bool
    notice: str  # what kind of list this is, in words to show the reader
    recommendations: list[Suggestion]


@dataclass(frozen=True)
class Similar:
    service_id: str
    model_version: str
    similar: list[Suggestion]


def _signposter(models: Models):
    signposter = models.signposter
    if signposter is None:
        raise Unavailable("no recommendation model and no popularity fallback are loaded; see /readyz")
    return signposter


@dataclass(frozen=True)
class _Request:
    """One person's request, with everything the ledger says right now."""

    person: Person
    consented: bool
    extra: list[tuple[str, float]]
    not_for_me: list[str]
    sensitive_opt_in: bool = False  # the person's own page, with their stored choice


def new_events(state: CitizenState, settings: Settings, purpose: Purpose = "personalisation") -> list[tuple[str, float]]:
    """Events received since the build as (service_id, weight), only from sources whose
    sharing policy (or, for a citizen's own reports, the portal's purposes) allows `purpose`."""
    weights = settings.event_weights
    out = []
    for service_id, event_type, source in state.events:
        weight = weights.get(event_type, 0.0)
        if weight > 0 and purpose in source_purposes(settings, source):
            out.append((service_id, weight))
    return out


def _prepare(state: CitizenState, person: Person, settings: Settings, sensitive_opt_in: bool = False) -> _Request:
    if state.erased:
        raise Gone("this person's data was erased at their request; nothing is served about them")
    consented = consent.allowed(state.consent.get("personalisation"), "personalisation", settings)
    return _Request(person, consented, new_events(state, settings) if consented else [], state.not_for_me,
                    sensitive_opt_in)


def _suggest_many(signposter, requests: list[_Request], k: int) -> list[list | Exception]:
    """One vectorised `suggest` call for several people; unknown people get NotFound each."""
    from recommender.signposting import UnknownCitizenError

    rows = signposter.rows_of([r.person.pseudonym for r in requests])  # one look-up for the batch
    known = [r for r, row in zip(requests, rows, strict=True) if row >= 0]
    results: dict[int, list | Exception] = {
        id(r): NotFound("no record of this person in the current build; check the person id")
        for r, row in zip(requests, rows, strict=True) if row < 0
    }
    if known:
        try:
            lists = signposter.suggest(
                [r.person.pseudonym for r in known], k=k,
                personalisation=[r.consented for r in known],
                extra_events=[r.extra for r in known],
                exclude=[r.not_for_me for r in known],
                sensitive_opt_in=[r.sensitive_opt_in for r in known],
            )
        except UnknownCitizenError:  # erased from served state in between: answer one by one
            lists = [_suggest_many(signposter, [r], k)[0] for r in known]
        results.update({id(r): out for r, out in zip(known, lists, strict=True)})
    return [results[id(r)] for r in requests]


def _finish(request: _Request, suggested: list, *, models: Models, signposter, processed: ProcessedData,
            served: ServedLog | None) -> Recommendations:
    """Label the list, and put it on the served log (subject access) as it is answered."""
    personalised = request.consented and any(s.personalised for s in suggested)
    if served is not None:
        served.record(request.person.pseudonym, kind="services", model_version=models.recommender_version,
                      personalised=personalised, service_ids=[s.service_id for s in suggested])
    if models.degraded:
        notice = NOTICE_DEGRADED
    elif not request.consented:
        notice = NOTICE_NO_CONSENT
    else:
        notice = NOTICE_PERSONALISED if personalised else NOTICE_NO_HISTORY
    return Recommendations(
        model_version=models.recommender_version, model=signposter.model_name, personalised=personalised,
        degraded=models.degraded, notice=notice,
        recommendations=[suggestion(s, processed) for s in suggested],
    )


def suggestion(suggested, processed: ProcessedData) -> Suggestion:
    """The reader's form of one of the model's suggestions. The same service, rank and reason
    recur across people, so each is built once per build and shared (nothing changes them)."""
    key = (suggested.service_id, suggested.rank, suggested.reason, suggested.full_reason, suggested.name,
           suggested.means_tested, suggested.sensitive)
    found = processed.memo.get(key)
    if found is None:
        if len(processed.memo) >= MEMO_SIZE:
            processed.memo.clear()
        extra = processed.service_fields.get(suggested.service_id, {})
        found = processed.memo[key] = Suggestion(
            rank=suggested.rank, service_id=suggested.service_id, name=suggested.name,
            category=extra.get("category"), provider=extra.get("provider"), reason=suggested.reason,
            means_tested=suggested.means_tested,
            eligibility_note=MEANS_TESTED_NOTE if suggested.means_tested else None, url=extra.get("url"),
            own_reason=suggested.full_reason, sensitive=suggested.sensitive,
        )
    return found


async def for_person(
    batcher: Batcher, viewer: Viewer, person: Person, *, models: Models, processed: ProcessedData,
    served: ServedLog | None, today: date, k: int, sensitive_opt_in: bool = False,
) -> Recommendations:
    """Ranked eligible services for `person`, if `viewer` may see them, honouring the ledger as
    it stands right now. `sensitive_opt_in` only for the person's own page, with their stored
    choice: sensitive services related to ones they use may then be suggested to them."""
    access.check(batcher.database, viewer, Action.recommendations, person, today=today)
    answer = await batcher.answer(person, models=models, processed=processed, served=served, k=k,
                                  sensitive_opt_in=sensitive_opt_in)
    if viewer.role is not Role.citizen:  # a staff read is audited (a write: off the event loop)
        await asyncio.to_thread(audit.staff_read, batcher.database, viewer, "recommendations.view", person.pseudonym)
    return answer


class Batcher:
    """Coalesces recommendation requests that arrive together into one vectorised call.

    Requests that reach the event loop within a few turns of each other (the common case
    under load) are answered by one ledger query and one `Signposter.suggest` over all of
    them, which costs far less per person than one of each per request. The batch waits
    `turns` passes of the event loop so that requests read in the meantime can join: each
    pass costs microseconds when the loop is idle, and under load it turns batches of one or
    two into full ones (measured: ~15% less CPU per request at 32 connections). Runs on the
    event loop thread: no locks, and the model reference is read once per batch.
    """

    def __init__(self, database: Database, settings: Settings, max_batch: int = 32, turns: int = 3) -> None:
        self.database = database
        self.settings = settings
        self.max_batch = max_batch
        self.turns = turns
        self._pending: list[tuple] = []
        self._scheduled = False

    async def answer(
        self, person: Person, *, models: Models, processed: ProcessedData, served: ServedLog | None, k: int,
        sensitive_opt_in: bool = False,
    ) -> Recommendations:
        """The answer for `person` (no access check: `for_person` makes it)."""
        signposter = _signposter(models)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((signposter, k, person, future, sensitive_opt_in))
        if not self._scheduled:
            self._scheduled = True
            self._after(loop, self.turns)
        request, suggested = await future
        return _finish(request, suggested, models=models, signposter=signposter, processed=processed, served=served)

    def _after(self, loop: asyncio.AbstractEventLoop, turns: int) -> None:
        if turns > 0:
            loop.call_soon(self._after, loop, turns - 1)
        else:
            self._run(loop)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        """Answer one batch (one model, one k); what is left waits for the next loop turn."""
        pending = self._pending
        signposter, k = pending[0][0], pending[0][1]
        chunk = [item for item in pending if item[0] is signposter and item[1] == k][: self.max_batch]
        taken = {id(item) for item in chunk}
        self._pending = [item for item in pending if id(item) not in taken]
        if self._pending:
            loop.call_soon(self._run, loop)  # socket I/O gets a turn in between
        else:
            self._scheduled = False
        results: list = []
        try:
            metrics.BATCH.observe(len(chunk))
            states = citizen_state.read_many(self.database, [item[2].pseudonym for item in chunk])
            requests: list[_Request | Exception] = []
            for item, state in zip(chunk, states, strict=True):
                try:
                    requests.append(_prepare(state, item[2], self.settings, item[4]))
                except Gone as gone:
                    requests.append(gone)
            ready = [r for r in requests if isinstance(r, _Request)]
            answers = iter(_suggest_many(signposter, ready, k))
            results = [r if isinstance(r, Exception) else (r, next(answers)) for r in requests]
        except Exception as error:  # noqa: BLE001 — handed to each waiting request
            results = [error] * len(chunk)
        for item, result in zip(chunk, results, strict=True):
            future = item[3]
            if future.cancelled():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            elif isinstance(result[1], Exception):
                future.set_exception(result[1])
            else:
                future.set_result(result)


# ------------------------------------------------------------------ the catalogue -----------


@dataclass(frozen=True)
class Service:
    service_id: str
    name: str
    description: str | None
    category: str | None
    provider: str | None
    min_age: int | None
    max_age: int | None
    districts: list[str]  # ["*"]: everywhere
    means_tested: bool
    intervention: bool
    url: str | None
    active: bool
    sensitive: bool = False
    phone: str | None = None
    contact: str | None = None  # how to apply or get in touch
    opening_hours: str | None = None


@dataclass(frozen=True)
class ServicesPage:
    total: int
    offset: int
    limit: int
    services: list[Service]


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value) -> int | None:
    try:
        return None if value is None or value != value else int(value)
    except (TypeError, ValueError):
        return None


def service(row) -> Service:
    districts = row.get("districts")
    return Service(
        service_id=str(row["service_id"]),
        name=str(row["name"]),
        description=_text(row.get("description")),
        category=_text(row.get("category")),
        provider=_text(row.get("provider")),
        min_age=_int(row.get("min_age")),
        max_age=_int(row.get("max_age")),
        districts=[str(d) for d in districts] if districts is not None else ["*"],
        means_tested=bool(row.get("means_tested")),
        intervention=bool(row.get("intervention")),
        url=_text(row.get("url")),
        active=bool(row.get("active")),
        sensitive=bool(row.get("sensitive")),
        phone=_text(row.get("phone")),
        contact=_text(row.get("contact")),
        opening_hours=_text(row.get("opening_hours")),
    )


def list_services(
    viewer: Viewer, processed: ProcessedData, *, offset: int, limit: int, category: str | None = None,
    active_only: bool = True,
) -> ServicesPage:
    """A page of the catalogue (no one's data: every role may read it)."""
    access.role_allowed(viewer, Action.services)
    frame = processed.services.sort_values("service_id")
    if active_only:
        frame = frame[frame["active"].astype(bool)]
    if category is not None:
        frame = frame[frame["category"] == category]
    page = frame.iloc[offset : offset + limit]
    return ServicesPage(total=len(frame), offset=offset, limit=limit,
                        services=[service(row) for _, row in page.iterrows()])


def similar(viewer: Viewer, models: Models, processed: ProcessedData, service_id: str, *, k: int) -> Similar:
    """Services often used alongside this one (aggregate co-use; no one's data)."""
    access.role_allowed(viewer, Action.services)
    signposter = _signposter(models)
    try:
        suggested = signposter.similar_services(service_id, k=k)
    except KeyError:
        raise NotFound(f"service {service_id!r} is not in the catalogue; GET /v1/services lists them") from None
    return Similar(service_id=service_id, model_version=models.recommender_version,
                   similar=[suggestion(s, processed) for s in suggested])
