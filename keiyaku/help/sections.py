"""The two manuals, their sections, and which section each screen's help link opens.

A screen is known by its URL pattern's name (``request.resolver_match.view_name``). A screen
not listed here links to its manual's table of contents; tests/help/test_help_pages.py checks
that every section named here is in its manual.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Manual:
    """One manual: a help page, and a PDF of it."""

    slug: str
    """Its URL segment (/help/<slug>/) and the stem of its PDF's file name."""
    title: str
    """Its heading, the help link's text and the PDF's title."""
    template: str
    """The Django template holding its text."""
    sections: tuple[tuple[str, str], ...]
    """(anchor, heading) of each section, in order: the table of contents."""
    screens: dict[str, str] = field(default_factory=dict)
    """URL name of a screen -> the anchor of the section that explains it."""


STAFF = Manual(
    slug="staff",
    title="職員向け操作マニュアル",
    template="help/staff.html",
    sections=(
        ("start", "はじめに"),
        ("login", "ログイン"),
        ("list", "案件一覧"),
        ("create", "案件の作成と書類の登録"),
        ("routing", "署名者と署名順"),
        ("boxes", "入力欄の配置"),
        ("preview", "署名者の画面のプレビュー"),
        ("send", "送信内容の確認と送信"),
        ("followup", "送信後の対応"),
        ("internal", "職員の承認・署名"),
        ("duplicate", "複製して送り直す"),
        ("complete", "締結後のダウンロードと締結証明書"),
        ("surety", "電子保証と添付ファイル"),
        ("import", "締結済み契約の取込"),
        ("verify", "署名の検証"),
        ("share", "案件の共有"),
        ("renewals", "更新・終了のお知らせ"),
        ("report", "月次報告"),
        ("admin", "管理者の設定"),
        ("webhooks", "Webhook（他のシステムとの連携）"),
        ("api", "APIトークン（他のシステムからの操作）"),
        ("counterparty", "事業者への案内"),
    ),
    screens={
        "login": "login",
        "signin-verify": "login",
        "signin-enrol": "login",
        "signin-account": "login",
        "signin-account-enrol": "login",
        "password_reset": "login",
        "password_reset_done": "login",
        "password_reset_confirm": "login",
        "password_reset_complete": "login",
        "signin-welcome": "login",
        "signin-recovery-codes": "login",
        "signin-recovery-codes-renew": "login",
        "signin-account-totp-remove": "login",
        "password_change": "login",
        "password_change_done": "login",
        "mailbox": "start",
        "contract-list": "list",
        "contract-create": "create",
        "contract-import": "import",
        "contract-import-bulk": "import",
        "contract-detail": "routing",
        "party-add": "routing",
        "addressbook:pick": "routing",
        "addressbook:list": "routing",
        "addressbook:company": "routing",
        "addressbook:company-create": "routing",
        "addressbook:company-edit": "routing",
        "addressbook:company-delete": "routing",
        "addressbook:contact-create": "routing",
        "addressbook:contact-edit": "routing",
        "addressbook:contact-delete": "routing",
        "addressbook:import": "routing",
        "party-access-code": "routing",
        "template-save": "routing",
        "application-send": "routing",
        "template-list": "routing",
        "template-apply": "routing",
        "box-placement": "boxes",
        "party-preview": "preview",
        "contract-send-confirm": "send",
        "contract-send": "send",
        "contract-remind": "followup",
        "contract-deadline": "followup",
        "contract-cancel": "followup",
        "contract-duplicate": "duplicate",
        "contract-renewals": "renewals",
        "contract-term": "renewals",
        "surety-add": "surety",
        "attachment-add": "surety",
        "surety-correct": "surety",
        "surety-remove": "surety",
        "attachment-remove": "surety",
        "monthly-report": "report",
        "verify": "verify",
        "about-trust": "verify",
        "orgadmin:staff-list": "admin",
        "orgadmin:staff-create": "admin",
        "orgadmin:staff-edit": "admin",
        "orgadmin:staff-import": "admin",
        "orgadmin:staff-import-apply": "admin",
        "orgadmin:department-list": "admin",
        "orgadmin:department-edit": "admin",
        "orgadmin:settings": "admin",
        "orgadmin:contact": "admin",
        "orgadmin:department-contact": "admin",
        "custom-field-list": "admin",
        "custom-field-edit": "admin",
        "orgadmin:audit-list": "admin",
        "webhooks:list": "webhooks",
        "webhooks:create": "webhooks",
        "webhooks:detail": "webhooks",
        "webhooks:test": "webhooks",
        "webhooks:rotate": "webhooks",
        "webhooks:delete": "webhooks",
        "webhooks:delivery": "webhooks",
        "webhooks:resend": "webhooks",
        "orgadmin:api-token-list": "api",
        "orgadmin:api-token-revoke": "api",
        "signin-settings": "admin",
        "signin-locks": "admin",
    },
)

GUIDE = Manual(
    slug="guide",
    title="事業者向けご利用ガイド",
    template="help/guide.html",
    sections=(
        ("about", "keiyaku の電子契約について"),
        ("mail", "署名依頼メール"),
        ("code", "アクセスコードの入力"),
        ("read", "書類の確認"),
        ("fill", "入力欄への入力"),
        ("agree", "同意と署名手続きの完了"),
        ("reject", "同意しない（却下）"),
        ("forward", "担当者を替える（転送）"),
        ("after", "手続きのあと"),
        ("account", "無料アカウント（締結済み契約の一覧）"),
        ("verify", "署名の検証"),
        ("ask", "お問い合わせ"),
        ("faq", "こんなときは"),
    ),
    screens={
        "sign-entry": "code",
        "sign-documents": "read",
        "sign-confirm": "agree",
        "sign-complete": "after",
        "sign-reject": "reject",
        "sign-forward": "forward",
        "download-entry": "after",
        "counterparty_accounts:start": "account",
        "counterparty_accounts:signin-link": "account",
        "counterparty_accounts:totp": "account",
        "counterparty_accounts:contracts": "account",
        "counterparty_accounts:security": "account",
        "application-form": "about",
        "verify": "verify",
        "about-trust": "verify",
    },
)

MANUALS: dict[str, Manual] = {manual.slug: manual for manual in (STAFF, GUIDE)}


def help_target(view_name: str | None, *, audience: str | None, staff: bool) -> tuple[Manual, str]:
    """The manual and section (anchor, "" for the table of contents) a screen's help link opens.

    ``view_name``: the screen's URL name (namespaced, as ``resolver_match.view_name``), None for
    an error page. ``audience``: "staff" or "guide" where the page's template says whom it
    serves (the counterparty pages' base says "guide"), None to decide here: a screen the
    counterparty guide explains opens the guide for a visitor who is not logged in (the public
    verification page), otherwise the staff manual when ``staff`` (logged in), else the guide.
    """
    name = view_name or ""
    if audience in MANUALS:
        manual = MANUALS[audience]
    elif not staff and name in GUIDE.screens:
        manual = GUIDE
    elif staff or name in STAFF.screens:
        manual = STAFF
    else:
        manual = GUIDE
    return manual, manual.screens.get(name, "")
