"""The demo mailbox: e-mail captured instead of sent, readable by logged-in staff (demo only)."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from keiyaku.notifications.models import CapturedAttachment, CapturedMail


def _demo_only() -> None:
    if not settings.DEMO:
        raise Http404


@login_required
def mailbox(request: HttpRequest) -> HttpResponse:
    _demo_only()
    mails = CapturedMail.objects.prefetch_related("attachments")[:200]
    return render(request, "web/mailbox.html", {"mails": mails})


@login_required
def mailbox_attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    _demo_only()
    attachment = get_object_or_404(CapturedAttachment, pk=attachment_id)
    response = HttpResponse(bytes(attachment.content), content_type=attachment.content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return response
