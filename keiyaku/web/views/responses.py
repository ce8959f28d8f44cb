"""Small response helpers shared by the staff and signing screens."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from keiyaku.web.page_images import PageImage


def pdf_response(data: bytes, filename: str, *, inline: bool = False) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response


IMMUTABLE = "private, max-age=31536000, immutable"
"""Cache-Control of a page image whose URL names its version: the bytes behind that URL never
change. ``private``: a page of a contract is kept by the party's browser only, never by a shared
cache on the way (issue 12; docs/security.md)."""
REVALIDATE = "private, no-cache"
"""Cache-Control of a page image asked for without its version (or an earlier one): the image
of the version shown now, which the browser must check again (ETag) before reusing."""


def page_image_response(request: HttpRequest, image: PageImage, *, immutable: bool) -> HttpResponse:
    """``image`` with its ETag (its SHA-256) and IMMUTABLE or REVALIDATE caching; 304 Not
    Modified without a body when the request's If-None-Match names that ETag (RFC 9110
    §13.1.2). The caller has checked access: this runs after it, on every request."""
    etag = f'"{image.etag}"'
    cache_control = IMMUTABLE if immutable else REVALIDATE
    offered = request.headers.get("If-None-Match", "")
    if offered.strip() == "*" or etag in (t.strip().removeprefix("W/") for t in offered.split(",")):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(image.data, content_type=image.content_type)
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response
