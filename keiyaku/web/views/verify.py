"""The public verification page (R25): anyone uploads a PDF and sees its signatures and the
verdict on what they prove (``keiyaku.signing.verdict``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.ratelimits.limiter import rate_limited
from keiyaku.signing.verdict import ItemStatus
from keiyaku.signing.verification import judge_pdf
from keiyaku.web.forms import VerifyForm

#: How each signature row is shown: the status class (green only for VALID) and its words.
ITEM_STATUS_SHOWN = {
    ItemStatus.VALID: ("completed", gettext_lazy("有効")),
    ItemStatus.INTACT: ("waiting", gettext_lazy("この時点までは改ざんなし")),
    ItemStatus.UNTRUSTED: ("rejected", gettext_lazy("信頼できない証明書")),
    ItemStatus.INVALID: ("rejected", gettext_lazy("無効")),
}


@rate_limited("verify", "KEIYAKU_RATE_VERIFY")
def verify(request: HttpRequest) -> HttpResponse:
    form = VerifyForm(request.POST or None, request.FILES or None)
    verdict = None
    error = ""
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.KEIYAKU_MAX_FILE_BYTES * 3:
            error = _("ファイルが大きすぎます。")
        else:
            verdict = judge_pdf(upload.read())
    return render(
        request,
        "web/verify.html",
        {
            "form": form,
            "verdict": verdict,
            "rows": [(line, *ITEM_STATUS_SHOWN[line.status]) for line in verdict.lines]
            if verdict
            else [],
            "error": error,
        },
        status=400 if error else 200,
    )
