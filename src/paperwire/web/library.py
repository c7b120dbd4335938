"""A reader's library: one-click feedback (save, "not interested", follow an author, collections), the
"My library" page with imports, public collection pages with their feeds and BibTeX, and the account's
data export and delete. Every change is a POST with CSRF that works without JavaScript (303 back) and
answers JSON to fetch(); everything private answers 404 to anybody else, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperwire.library_import import LibraryFileError, import_library, papers_to_bibtex
from paperwire.models import author_key
from paperwire.storage.library import LibraryQueries
from paperwire.storage.records import UserRecord
from paperwire.web.feeds import FORMATS, Feed, FeedEntry, feed_response
from paperwire.web.security import clear_session_cookie, current_request, hash_token, new_token, require_csrf
from paperwire.web.social import current_user, render, safe_next, store_of, wants_json

router = APIRouter(include_in_schema=False)

MAX_UPLOAD = 10 * 1024 * 1024
MAX_ROW_ID = 2**31 - 1
PRIVATE = {"Cache-Control": "private, no-store"}


def signed_in_or_redirect(request: Request, back: str) -> UserRecord | Response:
    user = current_user(request)
    if user is None:
        if wants_json(request):
            return JSONResponse({"detail": "Sign in first.", "login": f"/login?{urlencode({'next': back})}"}, 401)
        return RedirectResponse(f"/login?{urlencode({'next': back})}", status_code=303)
    return user


def answer(request: Request, back: str, payload: dict[str, Any]) -> Response:
    if wants_json(request):
        return JSONResponse(payload, headers=PRIVATE)
    return RedirectResponse(back, status_code=303)


def paper_or_404(request: Request, paper_id: str) -> None:
    if store_of(request).get_paper(paper_id) is None:
        raise HTTPException(404, f"no paper {paper_id!r} in this catalogue")


def own_collection(request: Request, user: UserRecord, collection_id: int) -> dict:
    """The reader's own collection; 404 for anybody else's (the same answer as a missing one)."""
    found = store_of(request).get_collection(collection_id) if 0 < collection_id <= MAX_ROW_ID else None
    if found is None or found["user_id"] != user["id"]:
        raise HTTPException(404, "There is no such collection.")
    return found


def visible_collection(request: Request, collection_id: int) -> dict:
    """A collection this visitor may see: public, or their own."""
    found = store_of(request).get_collection(collection_id) if 0 < collection_id <= MAX_ROW_ID else None
    user = current_user(request)
    if found is None or not (found["public"] or (user is not None and user["id"] == found["user_id"])):
        raise HTTPException(404, "There is no such collection.")
    return found


# ---- one-click feedback ------------------------------------------------------------------------


def set_paper_mark(
    request: Request, paper_id: str, back: str, on: bool, mark: Callable[[LibraryQueries, int, str, bool], object]
) -> Response:
    """A one-click mark of the signed-in reader on a paper (save, not interested): set or undone."""
    user = signed_in_or_redirect(request, back)
    if not isinstance(user, dict):
        return user
    paper_or_404(request, paper_id)
    mark(store_of(request), user["id"], paper_id, on)
    return answer(request, back, {"id": paper_id, "on": on})


@router.post("/papers/{paper_id:paper_id}/save", dependencies=[Depends(require_csrf)])
def save_paper(request: Request, paper_id: str, action: str = Form("save"), next: str = Form("")) -> Response:
    back = safe_next(next, f"/papers/{paper_id}")
    return set_paper_mark(request, paper_id, back, action != "undo", LibraryQueries.set_saved)


@router.post("/papers/{paper_id:paper_id}/not-interested", dependencies=[Depends(require_csrf)])
def mark_not_interested(request: Request, paper_id: str, action: str = Form("mark"), next: str = Form("")) -> Response:
    back = safe_next(next, "/for-you")
    return set_paper_mark(request, paper_id, back, action != "undo", LibraryQueries.set_not_interested)


@router.post("/papers/{paper_id:paper_id}/collect", dependencies=[Depends(require_csrf)])
def collect_paper(
    request: Request, paper_id: str, collection_id: str = Form(""), new_collection: str = Form(""),
    action: str = Form("add"), next: str = Form(""),
) -> Response:  # fmt: skip
    back = safe_next(next, f"/papers/{paper_id}")
    user = signed_in_or_redirect(request, back)
    if not isinstance(user, dict):
        return user
    paper_or_404(request, paper_id)
    store = store_of(request)
    if new_collection.strip():
        try:
            collection = store.create_collection(user["id"], new_collection)
        except ValueError as error:
            raise HTTPException(400, str(error)) from error
    elif collection_id.isdigit():
        collection = own_collection(request, user, int(collection_id))
    else:
        raise HTTPException(400, "Choose a collection or type the name of a new one.")
    member = action != "remove"
    store.set_in_collection(collection["id"], paper_id, member)
    if member:
        store.set_saved(user["id"], paper_id, True)  # a paper in a collection is in the library
    return answer(request, back, {"id": paper_id, "collection": collection["name"], "on": member})


@router.post("/authors/follow", dependencies=[Depends(require_csrf)])
def follow_author(
    request: Request, name: str = Form(""), action: str = Form("follow"), next: str = Form("")
) -> Response:
    back = safe_next(next, "/library")
    user = signed_in_or_redirect(request, back)
    if not isinstance(user, dict):
        return user
    name = " ".join(name.split())
    if not name or len(name) > 300:
        raise HTTPException(400, "Give the author's name as listed on a paper (at most 300 characters).")
    following = action != "undo"
    store_of(request).set_following(user["id"], name, following)
    return answer(request, back, {"name": name, "on": following})


# ---- My library ------------------------------------------------------------------------------------


def library_context(request: Request, user: UserRecord, **extra: Any) -> dict[str, Any]:
    store = store_of(request)
    return {
        "saved": store.saved_papers(user["id"]),
        "collections": store.collections_of(user["id"]),
        "references": store.references_of(user["id"]),
        "followed": store.followed_author_names(user["id"]),
        "dismissed": store.not_interested_papers(user["id"]),
        "has_feed": store.has_feed_token(user["id"]),
        "report": None,
        "feed_url": None,
        "error": None,
        **extra,
    }


def library_page(request: Request, user: UserRecord, status_code: int = 200, **extra: Any) -> HTMLResponse:
    response = render(request, "library.html", library_context(request, user, **extra), status_code)
    response.headers.update(PRIVATE)
    return response


@router.get("/library", response_class=HTMLResponse)
def my_library(request: Request) -> Response:
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    return library_page(request, user)


@router.post("/library/import", dependencies=[Depends(require_csrf)])
async def import_file(
    request: Request, file: UploadFile | None = None, text: str = Form(""), collection: str = Form("")
) -> Response:  # fmt: skip
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    data, source = text.encode(), "pasted text"
    if file is not None and file.filename:
        data, source = await file.read(MAX_UPLOAD + 1), file.filename[:200]
    if len(data) > MAX_UPLOAD:
        return library_page(request, user, 413, error=f"The file is larger than {MAX_UPLOAD // 2**20} MB.")
    if not data.strip():
        return library_page(request, user, 400, error="Choose a file (BibTeX, arXiv ids, JSON lines) or paste ids.")
    try:
        report = import_library(store_of(request), user["id"], source, data, collection=collection.strip() or None)
    except (LibraryFileError, ValueError) as error:
        return library_page(request, user, 400, error=str(error))
    return library_page(request, user, report=report)


@router.post("/library/collections", dependencies=[Depends(require_csrf)])
def create_collection(request: Request, name: str = Form(""), public: str = Form("")) -> Response:
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    try:
        store_of(request).create_collection(user["id"], name, public=bool(public))
    except ValueError as error:
        return library_page(request, user, 400, error=str(error))
    return RedirectResponse("/library", status_code=303)


@router.post("/library/collections/{collection_id:int}", dependencies=[Depends(require_csrf)])
def change_collection(request: Request, collection_id: int, action: str = Form("")) -> Response:
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    collection = own_collection(request, user, collection_id)
    store = store_of(request)
    if action == "delete":
        store.delete_collection(collection["id"])
    elif action in ("public", "private"):
        store.update_collection(collection["id"], public=action == "public")
    else:
        raise HTTPException(400, "action must be public, private or delete")
    return RedirectResponse("/library", status_code=303)


@router.post("/library/references/{reference_id:int}/delete", dependencies=[Depends(require_csrf)])
def delete_reference(request: Request, reference_id: int) -> Response:
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    if not (0 < reference_id <= MAX_ROW_ID and store_of(request).delete_reference(user["id"], reference_id)):
        raise HTTPException(404, "There is no such reference in your library.")
    return RedirectResponse("/library", status_code=303)


@router.post("/library/feed", dependencies=[Depends(require_csrf)])
def private_feed(request: Request, action: str = Form("new")) -> Response:
    """A new secret feed address (shown once; the old one stops working), or revoke it."""
    user = signed_in_or_redirect(request, "/library")
    if not isinstance(user, dict):
        return user
    if action == "revoke":
        store_of(request).set_feed_token(user["id"], None)
        return RedirectResponse("/library", status_code=303)
    token = new_token()
    store_of(request).set_feed_token(user["id"], hash_token(token))
    base = request.app.state.settings.base_url
    return library_page(request, user, feed_url=f"{base}/feeds/for-you/{token}.atom")


# ---- collections others may see --------------------------------------------------------------------


@router.get("/collections/{collection_id:int}", response_class=HTMLResponse)
def collection_page(request: Request, collection_id: int) -> Response:
    collection = visible_collection(request, collection_id)
    user = current_user(request)
    context = {
        "collection": collection,
        "papers": store_of(request).collection_papers(collection["id"]),
        "owner": user is not None and user["id"] == collection["user_id"],
    }
    response = render(request, "collection.html", context)
    if not collection["public"]:
        response.headers.update(PRIVATE)
    return response


@router.get("/collections/{collection_id:int}.bib")
def collection_bibtex(request: Request, collection_id: int) -> Response:
    collection = visible_collection(request, collection_id)
    store = store_of(request)
    references = [ref for ref in store.references_of(collection["user_id"]) if ref["collection_id"] == collection["id"]]
    body = papers_to_bibtex(store.collection_papers(collection["id"]), references)
    filename = "".join(ch if ch.isalnum() else "-" for ch in collection["name"])[:60] or "collection"
    headers = {"Content-Disposition": f'attachment; filename="{filename}.bib"', **PRIVATE}
    return Response(body, media_type="application/x-bibtex; charset=utf-8", headers=headers)


@router.get("/collections/{collection_id:int}/feed.{format_name}")
def collection_feed(request: Request, collection_id: int, format_name: str) -> Response:
    """A public collection's Atom / JSON feed (private collections have none: 404)."""
    found = store_of(request).get_collection(collection_id) if 0 < collection_id <= MAX_ROW_ID else None
    if found is None or not found["public"] or format_name not in FORMATS:
        raise HTTPException(404, "There is no such feed.")
    feed = Feed(
        title=f"{request.app.state.settings.site_name}: {found['name']}", subtitle=f"The collection “{found['name']}”",
        page_path=f"/collections/{found['id']}", feed_path=f"/collections/{found['id']}/feed",
        entries=[FeedEntry(paper) for paper in store_of(request).collection_papers(found["id"])],
    )  # fmt: skip
    return feed_response(request, feed, format_name)


# ---- the account: all of its data, and delete --------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    user = signed_in_or_redirect(request, "/account")
    if not isinstance(user, dict):
        return user
    response = render(request, "account.html", {"user": user})
    response.headers.update(PRIVATE)
    return response


@router.get("/account/export.json")
def account_export(request: Request) -> Response:
    """Everything paperwire keeps about the signed-in reader, as one JSON document."""
    user = current_user(request)
    if user is None:
        return JSONResponse({"detail": "Sign in first."}, 401)
    data = store_of(request).reader_data(user["id"])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    headers = {"Content-Disposition": f'attachment; filename="paperwire-{stamp}.json"', **PRIVATE}
    return Response(orjson.dumps(data, option=orjson.OPT_INDENT_2), media_type="application/json", headers=headers)


@router.post("/account/delete", dependencies=[Depends(require_csrf)])
def account_delete(request: Request, confirm: str = Form("")) -> Response:
    user = signed_in_or_redirect(request, "/account")
    if not isinstance(user, dict):
        return user
    if confirm.strip().lower() != "delete":
        refused = render(request, "account.html", {"user": user, "error": "Type DELETE to confirm."}, 400)
        refused.headers.update(PRIVATE)
        return refused
    store_of(request).delete_user(user["id"])
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, request.app.state.settings)
    return response


def reader_marks(request: Request, paper_ids: list[str]) -> dict[str, set[str]]:
    """The signed-in reader's saved and 👎 papers among these (two queries per page)."""
    user = current_user(request)
    if user is None:
        return {"saved": set(), "dismissed": set()}
    store = store_of(request)
    return {
        "saved": store.saved_paper_ids(user["id"], paper_ids),
        "dismissed": store.not_interested_ids(user["id"], paper_ids),
    }


def reader_paper_state(paper: Any) -> dict[str, Any] | None:  # a Paper from the template
    """For the paper page: the signed-in reader's save, collections and followed authors (None: signed out)."""
    request = current_request()
    user = current_user(request) if request is not None else None
    if request is None or user is None:
        return None
    store = store_of(request)
    followed = {author_key(name) for name in store.followed_author_names(user["id"])}
    return {
        "saved": paper.id in store.saved_paper_ids(user["id"], [paper.id]),
        "collections": store.collections_of(user["id"]),
        "holding": store.collections_holding(user["id"], paper.id),
        "followed": {name for name in paper.authors if author_key(name) in followed},
    }


def install_library_helpers(application: Any) -> None:  # a FastAPI app
    application.state.templates.env.globals["reader_paper_state"] = reader_paper_state
