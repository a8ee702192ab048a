"""Episodes become events: enquiry → application → enrolment → attendance → completion.

Every episode expands into up to nine slots (an optional enquiry, the main event, up to six
attendances, and a completion or a decline), drawn in one vectorised pass; slots that do not
happen are dropped, as are events after the end date (they have not happened yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.contract import EVENT_TYPES
from synthetic.catalogue import JOURNEYS

ENQUIRY, APPLICATION, ENROLMENT, ATTENDANCE, LOAN, BOOKING, REFERRAL, COMPLETION, DECLINED = (
    EVENT_TYPES.index(t)
    for t in (
        "enquiry", "application", "enrolment", "attendance", "loan", "booking", "referral",
        "completion", "declined",
    )
)
J = {name: i for i, name in enumerate(JOURNEYS)}
MAIN_TYPE = np.array(
    [
        {"loan": LOAN, "booking": BOOKING, "visit": ATTENDANCE, "apply": APPLICATION,
         "course": ENROLMENT, "refer": REFERRAL, "notify": REFERRAL, "enquire": ENQUIRY}[j]
        for j in JOURNEYS
    ],
    dtype=np.int8,
)
N_ATTEND = 5
FIRST_SECOND, LAST_SECOND = 7 * 3600, 22 * 3600  # events happen between 07:00 and 22:00


@dataclass
class Events:
    person_idx: np.ndarray  # (N,) int32
    service_idx: np.ndarray  # (N,) int16
    episode: np.ndarray  # (N,) int64, index of the episode the event belongs to
    second: np.ndarray  # (N,) int64, seconds since 1970-01-01 (naive UK local time)
    event_type: np.ndarray  # (N,) int8, index into EVENT_TYPES


def expand(
    rng: np.random.Generator,
    person_idx: np.ndarray,
    service_idx: np.ndarray,
    day: np.ndarray,
    journey: np.ndarray,
    first_day: int,
    end_day: int,
) -> Events:
    """Turn episodes (one row each) into their events, sorted by person then time.

    Events are drawn between 07:00 and 22:00 (naive UK local time), clear of the hour the
    clocks skip or repeat.
    """
    n = len(person_idx)
    j = journey[service_idx]
    slots = 2 + N_ATTEND + 1
    present = np.zeros((n, slots), dtype=bool)
    kind = np.zeros((n, slots), dtype=np.int8)
    offset = np.zeros((n, slots), dtype=np.int64)

    # slot 0: an enquiry before applying or enrolling
    pre = ((j == J["apply"]) & (rng.random(n) < 0.5)) | ((j == J["course"]) & (rng.random(n) < 0.4))
    present[:, 0] = pre
    kind[:, 0] = ENQUIRY
    offset[:, 0] = -rng.integers(1, 15, n)
    # slot 1: the main event
    present[:, 1] = True
    kind[:, 1] = MAIN_TYPE[j]
    # declines: some applications and referrals are turned down or not taken up
    declined = ((j == J["apply"]) & (rng.random(n) < 0.22)) | ((j == J["refer"]) & (rng.random(n) < 0.15))
    # attendances
    n_attend = np.zeros(n, dtype=np.int64)
    n_attend[j == J["booking"]] = rng.random((j == J["booking"]).sum()) < 0.85
    course = j == J["course"]
    n_attend[course] = 1 + rng.binomial(N_ATTEND - 1, 0.5, course.sum())
    refer = (j == J["refer"]) & ~declined
    n_attend[refer] = rng.binomial(3, 0.6, refer.sum())
    gap = np.where(j == J["booking"], rng.integers(1, 15, n), rng.integers(5, 15, n))
    attend_no = np.arange(N_ATTEND)
    present[:, 2 : 2 + N_ATTEND] = attend_no < n_attend[:, None]
    kind[:, 2 : 2 + N_ATTEND] = ATTENDANCE
    offset[:, 2 : 2 + N_ATTEND] = (attend_no + 1) * gap[:, None] + rng.integers(0, 3, (n, N_ATTEND))
    # last slot: completion or decline
    last_offset = np.where(n_attend > 0, n_attend * gap + 7, rng.integers(7, 41, n))
    completes = (
        ((j == J["apply"]) & ~declined & (rng.random(n) < 0.9))
        | (course & (rng.random(n) < 0.55))
        | (refer & (n_attend > 0) & (rng.random(n) < 0.45))
    )
    present[:, -1] = completes | declined
    kind[:, -1] = np.where(declined, DECLINED, COMPLETION)
    offset[:, -1] = np.where(declined, rng.integers(3, 21, n), last_offset)

    event_day = day[:, None] + offset
    present &= (event_day >= first_day) & (event_day <= end_day)
    episode, slot = np.nonzero(present)
    second = event_day[episode, slot] * 86400 + rng.integers(FIRST_SECOND, LAST_SECOND, len(episode))
    order = np.lexsort((second, person_idx[episode]))
    episode, slot, second = episode[order], slot[order], second[order]
    return Events(
        person_idx=person_idx[episode],
        service_idx=service_idx[episode],
        episode=episode,
        second=second,
        event_type=kind[episode, slot],
    )
