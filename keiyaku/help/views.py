"""The help pages: the two manuals, public (no login, no token), and the font they print in."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from keiyaku.fonts import FONT_PATH
from keiyaku.help.sections import MANUALS


@require_safe
def manual(request: HttpRequest, slug: str) -> HttpResponse:
    """One manual (``slug`` "staff" or "guide", sections.MANUALS) as a help page. Public: the
    city links the counterparty guide from its own web site, and the login page the staff
    manual. 404 for any other slug."""
    if slug not in MANUALS:
        raise Http404
    chosen = MANUALS[slug]
    return render(request, chosen.template, {"manual": chosen, "manuals": MANUALS})


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def manual_font(request: HttpRequest) -> FileResponse:
    """keiyaku's IPAex Gothic (keiyaku/fonts), which the manuals' print style sheet names with
    @font-face: a manual printed to PDF draws and embeds it on any machine. Screens use the
    reader's own fonts, so a browser fetches this only when printing."""
    return FileResponse(FONT_PATH.open("rb"), content_type="font/ttf")
