"""The maintenance banner's context for every page (web/base.html)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from keiyaku.operations.notices import notices_shown


def maintenance(request: HttpRequest) -> dict[str, Any]:
    # A callable: read only by a page that extends the base template.
    return {"MAINTENANCE_NOTICES": notices_shown}
