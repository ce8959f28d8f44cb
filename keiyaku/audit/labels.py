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
    "party.approve": _("承認"),
    "party.unlock": _("ロック解除・アクセスコード再設定"),
    "party.change_email": _("メールアドレスの修正・再送"),
    "contract.cancel": _("取消"),
    "contract.remind": _("リマインド送信"),
    "contract.expire": _("期限切れ"),
    "template.save": _("テンプレート保存"),
    "application.send": _("利用申出書の送付"),
    "application.consent": _("利用申出書の提出（電子契約の承諾）"),
    "party.reject": _("却下"),
    "party.forward": _("転送"),
    "party.access_code_failed": _("アクセスコード誤り"),
    "party.access_code_locked": _("アクセスコード誤りによるロック"),
    "signature.apply": _("電子署名の付与"),
    "contract.share": _("案件の共有"),
    "contract.unshare": _("案件の共有解除"),
    "organisation.create": _("団体の作成"),
    "organisation.settings": _("団体の設定変更"),
    "department.create": _("所属の追加"),
    "department.update": _("所属の変更"),
    "staff.create": _("職員の登録"),
    "staff.update": _("職員情報の変更"),
    "staff.import": _("職員のCSV一括登録"),
    "audit.export": _("操作ログの出力"),
    "audit.archive": _("操作ログの保管（アーカイブ）"),
}


def event_label(event: str) -> str:
    return str(EVENT_LABELS.get(event, event))
