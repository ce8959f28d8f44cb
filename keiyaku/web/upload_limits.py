"""Request bodies over the upload limits get a clear Japanese answer, never a bare 400 or 500.

`RequestSizeMiddleware` refuses a request whose Content-Length exceeds
``KEIYAKU_MAX_REQUEST_BYTES`` before anything reads its body (issue 10, finding 4: ten files of
60 MB were read into memory before their count was checked). `bad_request` is the project's
400 handler: Django's own refusals while parsing a body (too many files or fields, form fields
over ``DATA_UPLOAD_MAX_MEMORY_SIZE``) are shown with their reason, in the user's language.

A browser gets a page, a script (``Accept: application/json`` or a JSON body) the usual
refusal body ``{"error", "code", "field"}``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

_MIB = 1024 * 1024


def _answer(request: HttpRequest, *, message: str, code: str, status: int) -> HttpResponse:
    wants_json = "application/json" in request.headers.get("Accept", "") or (
        request.content_type or ""
    ).startswith("application/json")
    if wants_json:
        return JsonResponse({"error": message, "code": code, "field": None}, status=status)
    return render(request, "web/request_refused.html", {"message": message}, status=status)


def _too_large(request: HttpRequest) -> HttpResponse:
    return _answer(
        request,
        message=_(
            "送信されたデータが大きすぎます（上限 %(limit)sMB）。"
            "ファイルの数や大きさを減らして、もう一度お試しください。"
        )
        % {"limit": f"{settings.KEIYAKU_MAX_REQUEST_BYTES / _MIB:,.0f}"},
        code="request_too_large",
        status=413,
    )


class RequestSizeMiddleware:
    """413 with a Japanese page for a body over ``KEIYAKU_MAX_REQUEST_BYTES``, decided from
    the Content-Length header alone: the body is never read. Must come before every
    middleware that reads ``request.POST`` (CSRF) or the body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.KEIYAKU_MAX_REQUEST_BYTES:
            # No "Connection: close" (a hop-by-hop header WSGI forbids): the server decides
            # what to do with the unread body.
            return _too_large(request)
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: Django's refusals of a request body, with their reason."""
    if isinstance(exception, TooManyFilesSent):
        message = _("一度に送信できるファイルの数（%(count)s）を超えています。") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
        }
        return _answer(request, message=message, code="too_many_files_sent", status=400)
    if isinstance(exception, TooManyFieldsSent):
        message = _("送信された項目が多すぎます。")
        return _answer(request, message=message, code="too_many_fields_sent", status=400)
    if isinstance(exception, RequestDataTooBig):
        return _too_large(request)
    return _answer(
        request, message=_("リクエストが正しくありません。"), code="bad_request", status=400
    )
