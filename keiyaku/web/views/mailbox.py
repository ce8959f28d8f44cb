"""The mailbox: e-mail captured instead of sent (trial organisations, R46), for those who may read it.

What each person sees is decided by `keiyaku.notifications.selectors.captured_mail_visible_to`;
another organisation's attachment id is answered 404, so existence does not leak.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keiyaku.notifications.selectors import (
    captured_attachments_visible_to,
    captured_mail_visible_to,
)


@login_required
def mailbox(request: HttpRequest) -> HttpResponse:
    mails = captured_mail_visible_to(request.user).prefetch_related("attachments")[:200]
    return render(request, "web/mailbox.html", {"mails": mails})


@login_required
def mailbox_attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = get_object_or_404(captured_attachments_visible_to(request.user), pk=attachment_id)
    response = HttpResponse(bytes(attachment.content), content_type=attachment.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return response
