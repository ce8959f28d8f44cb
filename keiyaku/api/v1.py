"""``/api/v1``: the django-ninja application, its authentication and its errors (R40).

Every call has passed `keiyaku.api.gate` before it reaches an endpoint (token, IP allow-list,
scope, rate limit, Idempotency-Key); the bearer scheme here only declares the token in the
OpenAPI document and hands the endpoint the checked token. Endpoints live in
`keiyaku.api.contracts`, `documents`, `parties`, `boxes`, `imports`, `sureties`, `templates`,
`addressbook`, `reports` and `administration` (staff and departments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ValidationError as PydanticValidationError

from keiyaku.api.errors import error_response, refusal_response
from keiyaku.refusals import Refusal


class BearerToken(HttpBearer):
    """``Authorization: Bearer kyk_…``: an API token an admin made (checked by the gate)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return getattr(request, "api_token", None)


def _docs_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The docs page: Swagger UI from keiyaku's own static files; it sets inline styles, so
    this one page allows them (no inline script: its settings are a JSON data block)."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
        )
        return response

    return wrapped


api = NinjaAPI(
    title="keiyaku API",
    version="1",
    description=(
        "keiyaku's REST API: contracts, documents, parties, sending and downloads through the "
        "same services and permission checks as the screens. See docs/api.md."
    ),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs_decorator=_docs_page,
    auth=BearerToken(),
)


def _field(location: Any) -> str | None:
    names = [str(part) for part in location if not isinstance(part, int)]
    names = [n for n in names if n not in ("body", "query", "path", "form", "file", "payload")]
    return names[-1] if names else None


def _invalid(errors: list[dict[str, Any]]) -> HttpResponse:
    first = errors[0] if errors else {}
    field = _field(first.get("loc", ()))
    return error_response(
        422,
        "invalid",
        _("入力が正しくありません（%(field)s: %(reason)s）。")
        % {"field": field or "-", "reason": first.get("msg", "")},
        field,
    )


@api.exception_handler(Refusal)
def _refused(request: HttpRequest, exc: Refusal) -> HttpResponse:
    return refusal_response(exc)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", _("見つかりません。"))


@api.exception_handler(NinjaValidationError)
def _not_valid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return _invalid(list(exc.errors))


@api.exception_handler(PydanticValidationError)
def _not_valid_json(request: HttpRequest, exc: PydanticValidationError) -> HttpResponse:
    return _invalid([dict(e) for e in exc.errors()])


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        401, "token_missing", _("APIトークンが正しくありません。"), WWW_Authenticate="Bearer"
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, "bad_request", str(exc))


from keiyaku.api import (  # noqa: E402 - they register on `api`
    addressbook,
    administration,
    boxes,
    contracts,
    documents,
    imports,
    parties,
    reports,
    sureties,
    templates,
)

api.add_router("/contracts", imports.router)
api.add_router("/contracts", contracts.router)
api.add_router("/contracts", documents.router)
api.add_router("/contracts", parties.router)
api.add_router("/contracts", boxes.router)
api.add_router("/contracts", sureties.router)
api.add_router("/contracts", templates.contract_router)
api.add_router("/templates", templates.router)
api.add_router("/address-book", addressbook.router)
api.add_router("/reports", reports.router)
api.add_router("/staff", administration.staff_router)
api.add_router("/departments", administration.department_router)
