"""Sign-out, and an admin's cut-off of someone's sign-ins (serving/domain/revocations.py does the work)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.domain import access, revocations
from serving.domain.access import Action
from serving.http.api.citizens import WRITES
from serving.http.deps import RuntimeDep, ViewerDep, pseudonym_of
from serving.http.errors import ANY_ROUTE
from serving.http.schemas import RevocationIn, RevocationOut

router = APIRouter(tags=["sign-in"])

SIGNED_IN = {k: v for k, v in WRITES.items() if k in (*ANY_ROUTE, 401, 429)}


@router.post("/sign-out", response_model=RevocationOut, responses=SIGNED_IN)
def sign_out(viewer: ViewerDep, runtime: RuntimeDep) -> revocations.Revoked:
    """Revoke the bearer token sent with this request: from now on it is answered 401. Audited."""
    return revocations.sign_out(runtime.revocations, viewer)


@router.post(
    "/revocations", response_model=RevocationOut,
    responses={**SIGNED_IN, **{k: v for k, v in WRITES.items() if k in (403, 413, 422, 503)}},
)
def revoke(body: RevocationIn, viewer: ViewerDep, runtime: RuntimeDep) -> revocations.Revoked:
    """Admins only: every token of a member of staff or a citizen issued up to now stops working
    (a lost laptop, a stolen session); tokens issued afterwards work. Audited."""
    access.role_allowed(viewer, Action.revoke)  # before the person id is read: a refused caller learns nothing
    if body.staff_id is not None:
        return revocations.cut_off(runtime.revocations, body.staff_id, role="staff", viewer=viewer)
    pseudonym = pseudonym_of(runtime, viewer, body.person_id)
    return revocations.cut_off(runtime.revocations, pseudonym, role="citizen", viewer=viewer)
