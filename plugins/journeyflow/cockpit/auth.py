"""Who is looking: an authenticated Airflow user, and whether they may see personal data.

Airflow mounts a plugin's FastAPI app without any authentication, so every cockpit route
depends on ``viewer``: the user from a ``Authorization: Bearer <JWT>`` header (``POST
/auth/token``) or the UI's ``_token`` cookie, resolved by Airflow's own ``get_user``. No user,
an expired or a forged token: 401. Users who may edit the DAG see names and addresses; everybody
else sees contact ids only. Users who may not read the DAG get 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

DAG_ID = "journeyflow_nightly"
_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Viewer:
    name: str
    editor: bool  # may edit the DAG: sees names and addresses


class NotLoggedIn(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def viewer(request: Request, bearer: BearerDep) -> Viewer:
    """The Airflow user of this request, or 401."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.core_api.security import get_user

    try:
        user = await get_user(request, None, bearer)
    except HTTPException as exc:  # no token (401), expired (401) or invalid (403): not a user
        raise NotLoggedIn(f"log in to Airflow first ({exc.detail})") from None
    manager, dag = get_auth_manager(), DagDetails(id=DAG_ID)
    if not manager.is_authorized_dag(method="GET", details=dag, user=user):
        raise HTTPException(403, f"{user.get_name()} may not read the DAG {DAG_ID}")
    editor = manager.is_authorized_dag(method="PUT", details=dag, user=user)
    return Viewer(name=user.get_name(), editor=bool(editor))
