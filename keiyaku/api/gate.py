"""What every call under ``/api/v1/`` passes before and after its endpoint (R40).

In this order, so that no endpoint can forget one:

1. the bearer token (``Authorization: Bearer kyk_…``): none or one keiyaku does not accept
   is a 401 with ``WWW-Authenticate: Bearer`` (RFC 6750);
2. the organisation's IP allow-list (R38): outside it, a 403 ``ip_not_allowed``;
3. the token's scope: a read token may only read, only an admin token reaches the
   administration endpoints (403 ``scope``);
4. the rate limit per token (KEIYAKU_RATE_API): a 429 with Retry-After;
5. ``Idempotency-Key`` on a POST: the key is taken by inserting a row unique per token
   (`models.IdempotentRequest`), so of two calls racing with one key one runs and the other
   waits for its answer and gets the same one; the same key with another body is a 409;
6. the endpoint, with ``request.api_token``;
7. an ETag on every successful read, and a 304 for a matching If-None-Match;
8. one audit entry per call (``api.call``: the token's name, method, path and status), and
   the token's last-used time.

The OpenAPI document and the docs page are public: they describe the API, not an
organisation's data.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext as _

from keiyaku.accounts.middleware import organisation_allows
from keiyaku.accounts.network import client_ip
from keiyaku.api.errors import error_response
from keiyaku.api.models import ApiToken, IdempotentRequest
from keiyaku.api.tokens import TokenRefused, api_token_check, api_token_used, scope_allows
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.ratelimits.limiter import Limit, rate_allow

API_PREFIX = "/api/v1/"
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json", "/api/v1/docs"})
# Endpoints of the organisation's administration: an admin-scope token only.
ADMIN_PREFIXES = ("/api/v1/staff", "/api/v1/departments")
IDEMPOTENCY_HEADER = "Idempotency-Key"
# How long a call waits for another call with its key to finish before answering 409.
IDEMPOTENCY_WAIT_SECONDS = 60.0
# How long a key is remembered (`idempotent_requests_forget`).
IDEMPOTENCY_DAYS = 1


def api_meta(request: HttpRequest) -> RequestMeta:
    """The call's client address, user agent and token name, for the services' audit entries."""
    token: ApiToken | None = getattr(request, "api_token", None)
    meta = RequestMeta.from_request(request)
    return RequestMeta(
        ip=meta.ip, user_agent=meta.user_agent, api_token=token.name if token is not None else ""
    )


class ApiGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) or request.path in PUBLIC_PATHS:
            return self.get_response(request)
        scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return error_response(
                401,
                "token_missing",
                _("Authorization ヘッダーで APIトークンを送ってください（Bearer）。"),
                WWW_Authenticate="Bearer",
            )
        try:
            token = api_token_check(secret.strip())
        except TokenRefused as refused:
            return error_response(
                401,
                refused.code,
                refused.message,
                WWW_Authenticate='Bearer error="invalid_token"',
            )
        request.api_token = token  # type: ignore[attr-defined]
        response = self._checked(request, token)
        audit_record(
            event="api.call",
            organisation=token.organisation,
            actor=token.staff,
            subject=f"api_token:{token.pk}",
            detail={
                "method": request.method,
                "path": request.path[:500],
                "status": response.status_code,
            },
            meta=api_meta(request),
        )
        api_token_used(token)
        return response

    def _checked(self, request: HttpRequest, token: ApiToken) -> HttpResponse:
        if not organisation_allows(request, token.organisation):
            address = client_ip(request)
            return error_response(
                403,
                "ip_not_allowed",
                _("この接続元（%(address)s）からは、この団体のAPIを利用できません。")
                % {"address": address},
            )
        method = request.method or "GET"
        if not scope_allows(token, method, admin=request.path.startswith(ADMIN_PREFIXES)):
            return error_response(
                403, "scope", _("このAPIトークンの権限では、この操作はできません。")
            )
        limit, window = settings.KEIYAKU_RATE_API
        if not rate_allow(Limit(f"api-token:{token.pk}", limit, window)):
            return error_response(
                429,
                "rate_limited",
                _("APIの呼び出しが多すぎます。しばらくしてからもう一度お試しください。"),
                Retry_After=str(window),
            )
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if method == "POST" and key is not None:
            return _idempotent(request, token, key, self.get_response)
        response = self.get_response(request)
        if method in ("GET", "HEAD") and response.status_code == 200:
            return _with_etag(request, response)
        return response


def _with_etag(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An ETag for a read (a file's is set by its endpoint from its SHA-256; any other the
    hash of the body) and a 304 when If-None-Match names it (RFC 9110, 13.1.2)."""
    if not response.has_header("ETag"):
        if response.streaming:
            return response
        response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    conditional = get_conditional_response(request, etag=response["ETag"], response=response)
    return conditional if conditional is not None else response


def _fingerprint(request: HttpRequest) -> str:
    """SHA-256 of what makes two calls the same call: method, path, query and body. A
    multipart body is read as its fields and files (its boundary differs from call to call)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method}\0{request.get_full_path()}\0".encode())
    if request.content_type == "multipart/form-data":
        for name, values in sorted(request.POST.lists()):
            digest.update(f"{name}\0{values!r}\0".encode())
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                digest.update(f"{name}\0{upload.name}\0".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _idempotent(
    request: HttpRequest,
    token: ApiToken,
    key: str,
    get_response: Callable[[HttpRequest], HttpResponse],
) -> HttpResponse:
    """Run a POST once per (token, key): a repeat gets the first call's answer (marked with
    ``Idempotent-Replayed: true``), a repeat with another body a 409. Only a successful
    answer spends the key; a refused call frees it for a corrected retry."""
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        return error_response(
            400,
            "idempotency_key",
            _("Idempotency-Key は1〜255文字の半角英数字と記号で指定してください。"),
            field=IDEMPOTENCY_HEADER,
        )
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            row = IdempotentRequest.objects.create(
                token=token, key=key, fingerprint=fingerprint, created_at=timezone.now()
            )
    except IntegrityError:
        return _replayed(token, key, fingerprint)
    try:
        response = get_response(request)
    except BaseException:
        IdempotentRequest.objects.filter(pk=row.pk).delete()
        raise
    if 200 <= response.status_code < 300 and not response.streaming:
        IdempotentRequest.objects.filter(pk=row.pk).update(
            status=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
        )
    else:
        IdempotentRequest.objects.filter(pk=row.pk).delete()
    return response


def _replayed(token: ApiToken, key: str, fingerprint: str) -> HttpResponse:
    """The answer of the call that took ``key`` first, once it has one."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        first = IdempotentRequest.objects.filter(token=token, key=key).first()
        if first is not None and first.fingerprint != fingerprint:
            return error_response(
                409,
                "idempotency_key_reused",
                _("この Idempotency-Key は、別の内容の呼び出しに使われています。"),
                field=IDEMPOTENCY_HEADER,
            )
        if first is not None and first.status is not None:
            response = HttpResponse(
                bytes(first.body), status=first.status, content_type=first.content_type
            )
            response["Idempotent-Replayed"] = "true"
            return response
        if first is None or time.monotonic() > deadline:
            # The first call failed meanwhile (its key is free again), or is still running.
            return error_response(
                409,
                "idempotency_in_progress",
                _(
                    "同じ Idempotency-Key の呼び出しを処理中です。少し待ってからもう一度お試しください。"
                ),
                field=IDEMPOTENCY_HEADER,
                Retry_After="1",
            )
        time.sleep(0.05)


def idempotent_requests_forget(*, now: datetime | None = None) -> int:
    """Forget the Idempotency-Keys taken more than IDEMPOTENCY_DAYS before ``now`` (default:
    the current time); returns how many. Run hourly by `keiyaku.api.tasks`."""
    now = now or timezone.now()
    deleted, _rows = IdempotentRequest.objects.filter(
        created_at__lt=now - timedelta(days=IDEMPOTENCY_DAYS)
    ).delete()
    return deleted
