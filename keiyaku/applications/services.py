"""Sending the 電子契約利用申出書 link and taking the company's answers (R14)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from keiyaku.accounts.models import Staff
from keiyaku.applications.models import Application, ApplicationStatus
from keiyaku.applications.tokens import token_hash
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.mail_table import MailEvent, Recipient, mail_template
from keiyaku.contracts.models import Contract, Party
from keiyaku.contracts.permissions import require_contract_change
from keiyaku.contracts.services.drafting import party_add_from_application
from keiyaku.contracts.services.notify import sender_notify
from keiyaku.notifications.services import mail_queue
from keiyaku.text_input import require_single_line

MAX_STAFF_CONTACTS = 3


@dataclass(frozen=True)
class Contact:
    name: str
    email: str


@dataclass(frozen=True)
class Answers:
    """What the company enters on the form."""

    company: str
    """商号又は名称 of the company that signs."""
    title: str
    """役職 of the signing authority (may be empty)."""
    name: str
    """氏名 of the signing authority (契約締結権限者): the party that signs."""
    email: str
    """Where the signing request will go."""
    access_code: str
    """Chosen by the company; stored only hashed on the party, never e-mailed."""
    staff_contacts: Sequence[Contact] = ()
    """Up to three 契約担当者, shown to the sender."""


def consent_statement(contract: Contract, *, record: bool = True) -> str:
    """The statement the company consents to (建設業法施行令第5条の5).

    The record (``record=True``) is always the Japanese text, whatever the screen language; the
    form shows it in the reader's language.
    """
    with translation.override("ja" if record else translation.get_language()):
        return _(
            "建設業法施行令第5条の5の規定に基づき、%(organisation)sから示された電子契約の方法"
            "（電子契約サービス keiyaku により、電子署名及びタイムスタンプを付したPDFファイルで"
            "契約を締結し、各当事者がそのファイルを保存する方法）により、「%(title)s」の契約を"
            "締結することを承諾します。"
        ) % {"organisation": contract.organisation.name, "title": contract.title}


def _absolute(path: str) -> str:
    return settings.PUBLIC_URL + path


def application_send(
    *,
    contract: Contract,
    actor: Staff,
    company: str,
    email: str,
    meta: RequestMeta = SYSTEM,
) -> Application:
    """E-mail a company the link to the application form. Only for a draft.

    The link's token (192 bits) is in the e-mail only; the row keeps its SHA-256. It expires
    after KEIYAKU_APPLICATION_LINK_DAYS.
    """
    require_contract_change(actor, contract)
    company, email = company.strip(), email.strip()
    if not company or not email:
        raise ContractError(_("会社名とメールアドレスを入力してください。"), code="application")
    require_single_line(company=("会社名", company), email=("メールアドレス", email))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ContractError(
            _("メールアドレスの形式が正しくありません。"), code="application_email"
        ) from exc
    token = secrets.token_urlsafe(24)
    days = settings.KEIYAKU_APPLICATION_LINK_DAYS
    with transaction.atomic():
        # Locked like every draft edit, so a send cannot slip in before the mail is queued.
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        if not contract.is_editable:
            raise ContractError(
                _("利用申出書は送信前（下書き）の案件からのみ送れます。"), code="not_draft"
            )
        application = Application.objects.create(
            contract=contract,
            requested_by=actor,
            company=company[:200],
            email=email,
            token_hash=token_hash(token),
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            event="application.send",
            organisation=contract.organisation,
            actor=actor,
            subject=contract.audit_subject,
            detail={"application": application.pk, "company": company, "email": email},
            meta=meta,
        )
        template = mail_template(MailEvent.APPLICATION_SENT, Recipient.EXTERNAL_SIGNER)
        assert template is not None  # the table's one cell that sends the form's link
        mail_queue(
            organisation=contract.organisation,
            contract=contract,
            to=email,
            template=template,
            context={
                "contract": contract,
                "organisation": contract.organisation,
                "application": application,
                "sender": actor,
                "url": _absolute(reverse("application-form", args=[token])),
                "days": days,
            },
        )
    return application


def _clean_contacts(contacts: Sequence[Contact]) -> list[dict[str, str]]:
    cleaned = [
        {"name": c.name.strip(), "email": c.email.strip()}
        for c in contacts
        if c.name.strip() or c.email.strip()
    ]
    if len(cleaned) > MAX_STAFF_CONTACTS:
        raise ContractError(_("契約担当者は3名まで入力できます。"), code="staff_contacts")
    for contact in cleaned:
        require_single_line(staff_contacts=("氏名", contact["name"]))
        require_single_line(staff_contacts=("メールアドレス", contact["email"]))
        if not contact["name"] or not contact["email"]:
            raise ContractError(
                _("契約担当者は氏名とメールアドレスの両方を入力してください。"),
                code="staff_contacts",
            )
        try:
            validate_email(contact["email"])
        except ValidationError as exc:
            raise ContractError(
                _("契約担当者のメールアドレスの形式が正しくありません。"), code="staff_contacts"
            ) from exc
    return cleaned


def application_submit(
    *, application: Application, answers: Answers, meta: RequestMeta = SYSTEM
) -> Party:
    """The company's answers: add it as an external party and record its consent.

    One transaction: the application moves sent → submitted exactly once (a second submission
    is refused), the party is appended to the draft's routing with the chosen access code, the
    consent is written to the application row and the audit log, and the sender is e-mailed
    (without the access code). Refused when the link has expired or the contract is no longer
    a draft; then nothing changes.
    """
    require_single_line(
        company=("商号又は名称", answers.company),
        title=("役職", answers.title),
        name=("氏名", answers.name),
        email=("メールアドレス", answers.email),
    )
    contacts = _clean_contacts(answers.staff_contacts)
    now = timezone.now()
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=application.contract_id)
        if not contract.is_editable:
            raise ContractError(
                _("この案件は受付を終了しているため、利用申出書を提出できません。"),
                code="not_draft",
            )
        changed = Application.objects.filter(
            pk=application.pk, status=ApplicationStatus.SENT, expires_at__gt=now
        ).update(status=ApplicationStatus.SUBMITTED, submitted_at=now)
        if changed != 1:
            application.refresh_from_db()
            if application.is_submitted:
                raise ContractError(_("この利用申出書はすでに提出されています。"), code="submitted")
            raise ContractError(_("このリンクの有効期限が切れています。"), code="expired")
        sender = contract.created_by
        party = party_add_from_application(
            contract=contract,
            actor=sender,
            company=answers.company,
            name=answers.name,
            email=answers.email,
            access_code=answers.access_code,
            meta=meta,
        )
        statement = consent_statement(contract)
        Application.objects.filter(pk=application.pk).update(
            signer_company=party.company,
            signer_title=answers.title.strip()[:100],
            signer_name=party.name,
            signer_email=party.email,
            staff_contacts=contacts,
            consent_text=statement,
            submitted_ip=meta.ip,
            submitted_user_agent=meta.user_agent[:500],
            party=party,
        )
        application.refresh_from_db()
        audit_record(
            event="application.consent",
            organisation=contract.organisation,
            actor_label=f"{party.company} {party.name} <{party.email}>".strip(),
            subject=contract.audit_subject,
            detail={
                "application": application.pk,
                "party": party.pk,
                "statement": statement,
                "staff_contacts": contacts,
            },
            meta=meta,
        )
        sender_notify(
            contract=contract, event=MailEvent.APPLICATION_SUBMITTED, application=application
        )
    return party
