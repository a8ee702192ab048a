"""A refusal is counted, logged, rate-limited and audited, whether the API or a page refused.

The API answers it as JSON and the pages as HTML (`serving.http`); both record it here, so a
person probing for records they may not see shows up the same way in metrics, logs, the
refusal rate limit and the audit trail.
"""

from __future__ import annotations

import logging

from serving.domain import audit
from serving.domain.access import Refused
from serving.domain.auth import Viewer
from serving.infra import metrics
from serving.infra.db import Database
from serving.infra.limits import Limits

log = logging.getLogger("signpost.api")


def record(database: Database, limits: Limits, viewer: Viewer | None, error: Refused) -> None:
    """Count and log the refusal; for a signed-in viewer, count it against their limit and audit it."""
    metrics.REFUSALS.labels(error.action.name, error.code).inc()
    log.warning("refused", extra={"action": error.action.name, "code": error.code,
                                  "role": viewer.role.value if viewer else None,
                                  "actor": viewer.subject if viewer else None})
    if viewer is None:
        return
    limits.refused(viewer.subject)
    try:
        with database.write_session() as session:
            audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="access.refused",
                         subject=error.subject, detail={"action": error.action.name, "code": error.code})
    except Exception:  # the refusal stands even if auditing it failed; it is logged
        log.exception("could not audit a refusal")
