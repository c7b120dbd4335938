"""The Jinja2 environment (autoescape on) and the filters the templates share."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from paperwire.settings import Settings

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    templates.env.autoescape = True
    templates.env.globals["site_name"] = settings.site_name
    templates.env.globals["base_url"] = settings.base_url
    return templates
