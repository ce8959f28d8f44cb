"""Upload file names as the user gave them.

Django's multipart parser drops every character ``str.isprintable`` rejects, which includes the
full-width space (U+3000) common in Japanese file names, and does not normalise. This middleware
gives each request a parser that cleans names with `keiyaku.contracts.filenames.clean_filename`
instead. It must come before any middleware that reads ``request.POST`` (CSRF).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import ImmutableList

from keiyaku.contracts.filenames import clean_filename


class _Parser(MultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        return clean_filename(file_name) or None


class UploadNamesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def parse_file_upload(meta: Any, post_data: Any) -> Any:
            # As HttpRequest.parse_file_upload, with our parser.
            request.upload_handlers = ImmutableList(
                request.upload_handlers,
                warning="You cannot alter upload handlers after the upload has been processed.",
            )
            return _Parser(meta, post_data, request.upload_handlers, request.encoding).parse()

        request.parse_file_upload = parse_file_upload  # type: ignore[method-assign,assignment]
        return self.get_response(request)
