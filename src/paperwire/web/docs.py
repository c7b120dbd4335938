"""/docs: the Swagger UI of the JSON API, its scripts and styles served by paperwire itself (the
`swagger-ui-py` package ships Swagger UI 5, which reads OpenAPI 3.1), so the page works offline and without any CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)


def swagger_ui_directory() -> Path:
    import swagger_ui  # swagger-ui-py: its static/ folder is the Swagger UI distribution

    return Path(swagger_ui.__file__).parent / "static"


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


def install_docs(application: FastAPI) -> None:
    """Serve /docs and its assets (mount before the site's /static)."""
    application.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_directory()), name="swagger-ui")
    application.include_router(router)
