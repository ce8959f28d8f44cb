"""Japanese names of audit events, for screens and exports."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

EVENT_LABELS = {
    "contract.create": _("案件作成"),
    "contract.view": _("閲覧"),
    "contract.send": _("署名依頼の送信"),
    "contract.complete": _("締結完了"),
    "document.add": _("書類の追加"),
    "document.remove": _("書類の削除"),
    "document.download": _("ダウンロード"),
    "certificate.download": _("締結証明書のダウンロード"),
    "party.add": _("署名者の追加"),
    "party.remove": _("署名者の削除"),
    "party.move": _("署名順の変更"),
    "party.agree": _("同意"),
    "party.reject": _("却下"),
    "party.forward": _("転送"),
    "party.access_code_failed": _("アクセスコード誤り"),
    "party.access_code_locked": _("アクセスコード誤りによるロック"),
    "signature.apply": _("電子署名の付与"),
}


def event_label(event: str) -> str:
    return str(EVENT_LABELS.get(event, event))
