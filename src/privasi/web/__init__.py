"""Server-rendered pages: the admin dashboard and the privacy center (Jinja2, no JS build step)."""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
