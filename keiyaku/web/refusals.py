"""Turn a `Refusal` into what the user sees: a form error, a message, or a JSON body.

Views call one service through `attempt`; nothing else catches refusals in a view (a test
scans the views for it). A refusal is never a 500: it is shown in the user's language (the
message was translated when raised).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, JsonResponse

from keiyaku.refusals import Refusal

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a service call gave: its result, or the refusal already shown to the user."""

    result: T | None = None
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


def refusal_show(
    request: HttpRequest, refusal: Refusal, *, form: forms.BaseForm | None = None
) -> None:
    """Show a refusal: on `form` (on its field when the form has it) or as a page message."""
    if form is not None:
        field = refusal.field if refusal.field in form.fields else None
        form.add_error(field, refusal.message)
    else:
        messages.error(request, refusal.message)


def refusal_json(refusal: Refusal, *, status: int = 400) -> JsonResponse:
    """`{"error": message, "code": …, "field": …}` with `status` (400 unless told)."""
    return JsonResponse(refusal.as_dict(), status=status)


def attempt(
    request: HttpRequest,
    action: Callable[[], T],
    *,
    form: forms.BaseForm | None = None,
    success: str | Callable[[T], str] | None = None,
    show: bool = True,
) -> Outcome[T]:
    """Run one service call. A refusal is shown (`refusal_show`); otherwise the `success`
    message (a string, or a function of the result) is added to the page's messages.

    `show=False` leaves the refusal to the view, for a page or body of its own (`refusal_json`,
    a page that shows the error in place, a special status code).

    Returns the `Outcome`, so the view decides where to go next.
    """
    try:
        result = action()
    except Refusal as refusal:
        if show:
            refusal_show(request, refusal, form=form)
        return Outcome(refusal=refusal)
    if success is not None:
        messages.success(request, success(result) if callable(success) else success)
    return Outcome(result=result)


def form_errors_show(request: HttpRequest, form: forms.BaseForm) -> None:
    """Show every error of an invalid form as a page message (forms posted from a list)."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


__all__ = ["Outcome", "attempt", "form_errors_show", "refusal_json", "refusal_show"]
