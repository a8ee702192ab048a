"""Sign-out, and an admin's cut-off of someone's sign-ins (serving/revocation.py does the work)."""

from __future__ import annotations

from fastapi import APIRouter

from serving import access
from serving.access import Action
from serving.api.deps import RuntimeDep, ViewerDep, pseudonym_of
from serving.api.routes.citizens import REFUSALS
from serving.revocation import Revoked
from serving.schemas import ErrorOut, RevocationIn, RevocationOut

router = APIRouter(tags=["sign-in"])

SIGNED_IN = {k: v for k, v in REFUSALS.items() if k in (401, 429)}


def _out(revoked: Revoked) -> RevocationOut:
    return RevocationOut(scope=revoked.scope, revoked_at=revoked.revoked_at, expires_at=revoked.expires_at)


@router.post("/sign-out", response_model=RevocationOut, responses=SIGNED_IN)
def sign_out(viewer: ViewerDep, runtime: RuntimeDep) -> RevocationOut:
    """Revoke the bearer token sent with this request: from now on it is answered 401. Audited."""
    access.role_allowed(viewer, Action.sign_out)
    return _out(runtime.revocations.sign_out(viewer))


@router.post(
    "/revocations", response_model=RevocationOut,
    responses={**SIGNED_IN, 403: REFUSALS[403], 422: {"model": ErrorOut, "description": "Not exactly one of "
                                                          "`staff_id` or `person_id`, or a malformed one."}},
)
def revoke(body: RevocationIn, viewer: ViewerDep, runtime: RuntimeDep) -> RevocationOut:
    """Admins only: every token of a member of staff or a citizen issued up to now stops working
    (a lost laptop, a stolen session); tokens issued afterwards work. Audited."""
    access.role_allowed(viewer, Action.revoke)
    if body.staff_id is not None:
        return _out(runtime.revocations.cut_off(body.staff_id, role="staff", viewer=viewer))
    pseudonym = pseudonym_of(runtime, viewer, body.person_id)
    return _out(runtime.revocations.cut_off(pseudonym, role="citizen", viewer=viewer))
