"""HTML pages of the catalogue: the daily, weekly and monthly lists and the paper page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
