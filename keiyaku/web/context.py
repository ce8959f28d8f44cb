from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from keiyaku.notifications.selectors import mailbox_offered


def site(request: HttpRequest) -> dict[str, Any]:
    # A callable: the template calls it only where it shows the navigation.
    return {"MAILBOX": lambda: mailbox_offered(request.user)}
