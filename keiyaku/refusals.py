"""The one refusal type: what keiyaku tells a user it will not do, and why.

Every app's refusals derive from `Refusal` (as HackSoftware's Django Styleguide has one
`ApplicationError`). A service raises it; a view turns it into a form error, a message or a
JSON body with `keiyaku.web.refusals`. The message is translated where it is raised (through
`gettext`, in the language of the request); `code` is stable for machines and tests; `field`
names the input at fault, when there is one.
"""

from __future__ import annotations

from typing import Any


def _refusal_from_state(cls: type[Refusal], message: str, code: str, field: str | None) -> Refusal:
    refusal = cls.__new__(cls)
    Exception.__init__(refusal, message)
    refusal.message, refusal.code, refusal.field = message, code, field
    return refusal


class Refusal(Exception):
    """A request refused for a reason the user can act on.

    Args:
        message: shown to the user as it is; already translated (`gettext`) or lazy.
        code: a stable machine code in snake_case (`not_draft`, `forbidden` …); defaults to the
            class's `default_code`.
        field: the form or API field at fault, or None for the request as a whole.
    """

    default_code = "invalid"

    def __init__(self, message: Any, *, code: str | None = None, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.code = code or self.default_code
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        # Refusals made in a budgeted child process (an ingest) cross a pipe to the parent;
        # the keyword-only constructor would not rebuild them from ``args``.
        return (_refusal_from_state, (type(self), self.message, self.code, self.field))

    def as_dict(self) -> dict[str, str | None]:
        """The refusal as a JSON body: `error` (the message), `code`, `field`.

        The same shape as the IP allow-list's JSON 403, and what the box screen's script reads.
        """
        return {"error": self.message, "code": self.code, "field": self.field}


class NotAllowed(Refusal):
    """The actor has no right to this change (R2, R29, R36): role, department or organisation."""

    default_code = "forbidden"
