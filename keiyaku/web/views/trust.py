"""The public "about trust" page (issue 13): which roots this keiyaku trusts, what it signs
and timestamps with, and each root as a PEM download."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from keiyaku.signing.trust import root_pem, trust_overview


@require_GET
def about_trust(request: HttpRequest) -> HttpResponse:
    return render(request, "web/trust.html", {"trust": trust_overview()})


@require_GET
def root_download(request: HttpRequest, sha256: str) -> HttpResponse:
    found = root_pem(sha256)
    if found is None:
        raise Http404
    name, data = found
    response = HttpResponse(data, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
