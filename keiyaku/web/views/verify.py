"""The public verification page (R25): anyone uploads a PDF and sees its signatures and the
verdict on what they prove (``keiyaku.signing.verdict``)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keiyaku.ratelimits.limiter import rate_limited
from keiyaku.signing.validation import SignatureReport
from keiyaku.signing.verdict import ItemStatus, Line
from keiyaku.signing.verification import BudgetExceeded, judge_pdf
from keiyaku.web.forms import VerifyForm

#: How each signature row is shown: the status class (green only for VALID), its words and a
#: plain explanation (issue 14: pyHanko's English error text was shown instead).
ITEM_STATUS_SHOWN = {
    ItemStatus.VALID: (
        "completed",
        gettext_lazy("有効"),
        gettext_lazy("署名は壊れておらず、この keiyaku の信頼する証明書で作られています。"),
    ),
    ItemStatus.INTACT: (
        "waiting",
        gettext_lazy("この時点までは改ざんなし"),
        gettext_lazy(
            "この署名（またはタイムスタンプ）の時点までは文書が変更されていないことを示します。"
            "keiyaku で締結されたことの証明にはなりません。"
        ),
    ),
    ItemStatus.UNTRUSTED: (
        "rejected",
        gettext_lazy("信頼できない証明書"),
        gettext_lazy(
            "署名は壊れていませんが、作成に使われた証明書（またはそのタイムスタンプ）を信頼できません。"
            "この keiyaku が信頼する認証局の証明書ではないか、失効しています。"
        ),
    ),
    ItemStatus.INVALID: (
        "rejected",
        gettext_lazy("無効"),
        gettext_lazy(
            "署名が壊れているか、署名の後に、この署名が認めていない変更が文書に加えられています。"
        ),
    ),
}

#: What changed in the revisions after a signature (pyHanko's modification level), in words.
MODIFICATION_SHOWN = {
    "NONE": gettext_lazy("なし"),
    "LTA_UPDATES": gettext_lazy("長期検証用のデータとタイムスタンプの追加のみ（正常です）"),
    "FORM_FILLING": gettext_lazy("後の署名と入力欄への記入のみ（正常です）"),
    "ANNOTATIONS": gettext_lazy("注釈（コメントなど）の追加"),
    "OTHER": gettext_lazy("文書の内容の変更（署名の後に書き換えられています）"),
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


def _with_last(lines: Sequence[Line]) -> list[tuple[bool, Line]]:
    return [(number == len(lines) - 1, line) for number, line in enumerate(lines)]


def _change_shown(item: SignatureReport, last: bool) -> str:
    """What happened to the document after this signature or timestamp, in words."""
    if item.coverage == "ENTIRE_FILE":
        return _("なし（これが最後の署名またはタイムスタンプです）")
    if last:
        return _("あり（最後の署名の後に変更されています）")
    shown = MODIFICATION_SHOWN.get(item.modification_level or "")
    return str(shown) if shown else _("確認できません")


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
            "rows": [
                (line, *ITEM_STATUS_SHOWN[line.status], _change_shown(line.item, last))
                for last, line in _with_last(verdict.lines)
            ]
            if verdict
            else [],
            "error": error,
        },
        status=400 if error else 200,
    )
