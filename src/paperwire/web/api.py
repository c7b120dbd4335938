"""Our JSON API for the catalogue: /api/papers, /api/papers/{id}, /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/healthz", tags=["operations"])
def healthz(request: Request) -> dict:
    store = request.app.state.store
    return {"status": "ok", "papers": store.count_papers()}
