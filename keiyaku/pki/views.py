"""HTTP endpoints of keiyaku's own PKI: RFC 3161 timestamps, CRL, OCSP, root certificate.

Machine clients only (pyHanko, Acrobat, NSS, openssl): no session, no CSRF token, no HTML.
The TSA answers keiyaku's own processes only, unless the operator opens it (``tsa_access``);
anyone else gets a 403 with a one-line body before the request is read.
A request that is not even addressed to us (wrong content type, empty, oversized, not
base64) gets a 400 with a one-line body, never a 500. A request in the right envelope that
cannot be honoured gets a 200 with the protocol's own error answer (RFC 3161 ``rejection``,
RFC 6960 ``malformedRequest``), which is what TSA and OCSP clients expect to read.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keiyaku.ascii_digits import is_ascii_digits

from . import revocation, tsa_access
from . import tsa as tsa_responder
from .service import get_authority

# A timestamp query is ~60 bytes and an OCSP request a few hundred: anything much bigger is
# not a client of ours.
MAX_REQUEST_BYTES = 16 * 1024


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _body(request: HttpRequest, content_type: str) -> bytes | HttpResponse:
    if request.content_type != content_type:
        return _bad_request(f"expected Content-Type {content_type}")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not is_ascii_digits(length) or int(length) > MAX_REQUEST_BYTES:
        return _bad_request("request too large")
    if not request.body:
        return _bad_request("empty request")
    return request.body


@csrf_exempt
@require_POST
def tsa(request: HttpRequest) -> HttpResponse:
    if not tsa_access.request_allowed(request):
        return HttpResponse(
            "this time-stamp authority serves keiyaku only",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body = _body(request, "application/timestamp-query")
    if isinstance(body, HttpResponse):
        return body
    reply = tsa_responder.respond(body, authority=get_authority())
    return HttpResponse(reply, content_type="application/timestamp-reply")


@require_GET
@cache_control(public=True, max_age=3600)
def crl(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        revocation.current_crl(get_authority()), content_type="application/pkix-crl"
    )


@csrf_exempt
@require_POST
def ocsp_post(request: HttpRequest) -> HttpResponse:
    body = _body(request, "application/ocsp-request")
    if isinstance(body, HttpResponse):
        return body
    return _ocsp_response(body)


@require_GET
def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    # RFC 6960 appendix A.1: base64 of the DER request, URL-encoded (NSS escapes / + =).
    if len(encoded) > MAX_REQUEST_BYTES:
        return _bad_request("request too large")
    try:
        der = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        return _bad_request("not base64")
    return _ocsp_response(der)


def _ocsp_response(der: bytes) -> HttpResponse:
    reply = revocation.ocsp_respond(der, authority=get_authority())
    return HttpResponse(reply, content_type="application/ocsp-response")


@require_GET
@cache_control(public=True, max_age=86400)
def root_certificate(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(get_authority().root_cert.dump(), content_type="application/pkix-cert")
    response["Content-Disposition"] = 'attachment; filename="keiyaku-root.crt"'
    return response
