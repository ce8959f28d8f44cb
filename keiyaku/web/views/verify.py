"""The public verification page (R25): anyone uploads a PDF and sees its signatures and the
verdict on what they prove (``keiyaku.signing.verdict``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from keiyaku.ratelimits.limiter import rate_limited
from keiyaku.signing.verification import judge_pdf
from keiyaku.web.forms import VerifyForm


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
        {"form": form, "verdict": verdict, "error": error},
        status=400 if error else 200,
    )
