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
from keiyaku.signing.verification import BudgetExceeded, judge_pdf
from keiyaku.web.forms import VerifyForm

#: How each signature row is shown: the status class (green only for VALID) and its words.
ITEM_STATUS_SHOWN = {
    ItemStatus.VALID: ("completed", gettext_lazy("有効")),
    ItemStatus.INTACT: ("waiting", gettext_lazy("この時点までは改ざんなし")),
    ItemStatus.UNTRUSTED: ("rejected", gettext_lazy("信頼できない証明書")),
    ItemStatus.INVALID: ("rejected", gettext_lazy("無効")),
}


def _over_budget_message(exc: BudgetExceeded) -> str:
    if exc.what == "time":
        return _(
            "このPDFの検証は制限時間（%(seconds)s秒）内に終わらなかったため、中止しました。"
            "署名の有効性は判定できていません。"
        ) % {"seconds": f"{exc.limits.seconds:g}"}
    return _(
        "このPDFの検証はメモリの上限（%(mb)sMB）を超えたため、中止しました。"
        "署名の有効性は判定できていません。"
    ) % {"mb": exc.limits.memory_mb}


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
            try:
                verdict = judge_pdf(upload.read())
            except BudgetExceeded as exc:
                # Issue 10, finding 7: a file built to keep the validator busy ends here.
                error = _over_budget_message(exc)
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
