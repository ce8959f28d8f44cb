"""The API's errors: one JSON shape, ``{"code", "message", "field"}``, and its HTTP status.

Every refusal a service raises already carries a stable ``code``, a message translated in the
request's language (Accept-Language: Japanese, or English) and the field at fault
(`keiyaku.refusals`). This module only says which HTTP status each means, in one table, so an
endpoint never chooses a status itself:

- 400 the request cannot be read (a cursor, a sort or a search that is malformed);
- 401 no token, or one keiyaku does not accept (`tokens.TokenRefused`);
- 403 the token's member or scope may not do this (`NotAllowed`), or the client address is
  outside the organisation's IP allow-list;
- 404 nothing the token may see has this id (another organisation's objects included, R1);
- 409 the object's state does not allow it now (sent, finished, changed meanwhile), or an
  Idempotency-Key reused with another body;
- 413 a file or a contract over its size limit;
- 422 input that is well-formed but refused (every other refusal);
- 429 too many calls (Retry-After says when to try again).
"""

from __future__ import annotations

from django.http import JsonResponse

from keiyaku.refusals import NotAllowed, Refusal

MALFORMED = frozenset(
    {"bad_cursor", "bad_sort", "bad_search", "bad_json", "bad_request", "search_word_too_long"}
)
CONFLICTS = frozenset(
    {
        "not_draft",
        "not_in_progress",
        "finished",
        "already_handled",
        "changed_while_sending",
        "summary_changed",
        "changed",
        "stale",
        "party_done",
        "imported",
        "already_shared",
        "already_withdrawn",
        "label_taken",
        "name_taken",
        "duplicate",
        "duplicate_company",
        "duplicate_contact",
        "duplicate_department",
        "duplicate_email",
        "duplicate_login",
        "last_document",
        "last_admin",
        "idempotency_key_reused",
        "idempotency_in_progress",
        "not_empty",
        "removed",
        "already_removed",
    }
)
TOO_LARGE = frozenset({"too_large", "contract_too_large", "request_too_large"})


def refusal_status(refusal: Refusal) -> int:
    """The HTTP status of a service's refusal (the table in this module's docstring)."""
    if isinstance(refusal, NotAllowed) or refusal.code == NotAllowed.default_code:
        # Some services refuse a right with their own class and the same code (address book).
        return 403
    if refusal.code in MALFORMED:
        return 400
    if refusal.code in CONFLICTS:
        return 409
    if refusal.code in TOO_LARGE:
        return 413
    if refusal.code == "rate_limited":
        return 429
    if refusal.code == "not_found":
        return 404
    return 422


def error_body(code: str, message: str, field: str | None = None) -> dict[str, str | None]:
    """The one error shape of the API."""
    return {"code": code, "message": message, "field": field}


def error_response(
    status: int, code: str, message: str, field: str | None = None, **headers: str
) -> JsonResponse:
    """``error_body`` as a response with ``status`` and extra headers (``Retry_After`` is
    sent as ``Retry-After``)."""
    response = JsonResponse(error_body(code, message, field), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def refusal_response(refusal: Refusal) -> JsonResponse:
    """A service's refusal as the API answers it."""
    return error_response(refusal_status(refusal), refusal.code, refusal.message, refusal.field)
