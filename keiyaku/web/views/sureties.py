"""A contract's electronic sureties and attachments (R32), on its page: add a surety (with its
「認証キーのお知らせ」), add an attachment, download one; correct or remove a surety, remove an
attachment, each on a page of its own that asks for the reason and confirms (the previous
values and removed rows stay in the contract's 「削除・訂正の履歴」). Attachments are never
signed and are shown apart from the contract's documents (「添付ファイル（署名対象外）」)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts.models import Attachment, Contract, Surety
from keiyaku.contracts.selectors import contract_for
from keiyaku.contracts.services import corrections, sureties
from keiyaku.contracts.timefmt import JST
from keiyaku.storage.blobs import blob_get
from keiyaku.web.forms import AttachmentForm, RemovalForm, SuretyCorrectForm, SuretyForm
from keiyaku.web.refusals import attempt
from keiyaku.web.views.contracts import StaffRequest, _back, _detail, _uploads
from keiyaku.web.views.responses import pdf_response


def _surety_values(data: dict[str, Any]) -> sureties.SuretyValues:
    """A surety form's cleaned data as the services take it (adding and correcting alike)."""
    return sureties.SuretyValues(
        kind=data["kind"],
        issuer=data["issuer"],
        number=data["number"],
        auth_key=data["auth_key"],
        amount=data["amount"],
        period_start=data["period_start"],
        period_end=data["period_end"],
    )


@contract_editor_required
@require_POST
def surety_add(request: StaffRequest, contract_id) -> HttpResponse:
    """「電子保証を登録」: in any state of the contract; a refusal shows the form again as
    typed (400), the 認証キー included, on the contract's page."""
    contract = contract_for(request.user, contract_id)
    form = SuretyForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        notice = data.get("notice")
        added = attempt(
            request,
            lambda: sureties.surety_add(
                contract=contract,
                actor=request.user,
                values=_surety_values(data),
                notice=_uploads([notice])[0] if notice else None,
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("電子保証を登録しました。"),
        )
        if added.ok:
            return _back(contract)
    return _detail(request, contract, surety_form=form)


@contract_editor_required
@require_POST
def attachment_add(request: StaffRequest, contract_id) -> HttpResponse:
    """「添付ファイルを追加」: a PDF kept with the contract, in any state, never signed."""
    contract = contract_for(request.user, contract_id)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("添付するPDFを選択してください。"))
        return _back(contract)
    attempt(
        request,
        lambda: sureties.attachment_add(
            contract=contract,
            actor=request.user,
            upload=_uploads([form.cleaned_data["file"]])[0],
            meta=RequestMeta.from_request(request),
        ),
        success=_("添付ファイルを追加しました。"),
    )
    return _back(contract)


@login_required
def attachment_download(request: StaffRequest, contract_id, attachment_id: int) -> HttpResponse:
    """An attachment as it was uploaded: always a download (``Content-Disposition:
    attachment``, ``application/pdf``), never shown in the browser; 404 for anyone who may not
    read the contract. Audited as ``attachment.download``."""
    contract = contract_for(request.user, contract_id)
    attachment = get_object_or_404(
        Attachment.objects.select_related("blob__keyring"), pk=attachment_id, contract=contract
    )
    audit_record(
        event="attachment.download",
        organisation=contract.organisation,
        actor=request.user,
        subject=contract.audit_subject,
        detail={"filename": attachment.filename, "sha256": attachment.blob.sha256},
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(blob_get(attachment.blob), attachment.filename)


def _to_sureties(contract: Contract) -> HttpResponse:
    return redirect(reverse("contract-detail", args=[contract.pk]) + "#sureties")


def _surety_of(contract: Contract, surety_id: int, *, current: bool) -> Surety:
    """One of the contract's sureties (404 for any other id); ``current``: not removed (the
    screens that open from the contract's list)."""
    rows = Surety.objects.select_related("contract", "notice__blob")
    return get_object_or_404(rows.current() if current else rows, pk=surety_id, contract=contract)


def _attachment_of(contract: Contract, attachment_id: int, *, current: bool) -> Attachment:
    rows = Attachment.objects.select_related("contract", "blob")
    return get_object_or_404(
        rows.current() if current else rows, pk=attachment_id, contract=contract
    )


@contract_editor_required
def surety_correct(request: StaffRequest, contract_id, surety_id: int) -> HttpResponse:
    """「電子保証の訂正」: the surety's fields as they are (the 認証キー included: this page is
    for staff who may change the contract, who see it on its page), corrected with a reason;
    the previous values stay in the 「削除・訂正の履歴」 (`corrections.surety_correct`). A
    refusal shows the form again as typed (400). 404 for anyone who may not read the
    contract, 403 for a viewer; a staff member who may read but not change it is refused."""
    contract = contract_for(request.user, contract_id)
    surety = _surety_of(contract, surety_id, current=request.method != "POST")
    if request.method == "POST":
        form = SuretyCorrectForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            notice = data.get("notice")
            done = attempt(
                request,
                lambda: corrections.surety_correct(
                    surety=surety,
                    actor=request.user,
                    values=_surety_values(data),
                    reason=data["reason"],
                    notice=_uploads([notice])[0] if notice else None,
                    corrections_seen=data["corrections_seen"],
                    meta=RequestMeta.from_request(request),
                ),
                form=form,
                success=_("電子保証を訂正しました。訂正前の内容は「削除・訂正の履歴」に残ります。"),
            )
            if done.ok:
                return _to_sureties(contract)
        status = 400
    else:
        form = SuretyCorrectForm(
            initial={
                "kind": surety.kind,
                "issuer": surety.issuer,
                "number": surety.number,
                "auth_key": sureties.surety_auth_key(surety),
                "amount": surety.amount,
                "period_start": surety.period_start,
                "period_end": surety.period_end,
                "corrections_seen": surety.corrections.count(),
            }
        )
        status = 200
    return render(
        request,
        "web/surety_correct.html",
        {"contract": contract, "surety": surety, "form": form},
        status=status,
    )


def _removal_page(
    request: StaffRequest,
    contract: Contract,
    form: RemovalForm,
    *,
    heading: str,
    question: str,
    rows: list[tuple[str, str]],
    action: str,
    status: int,
) -> HttpResponse:
    return render(
        request,
        "web/removal_confirm.html",
        {
            "contract": contract,
            "form": form,
            "heading": heading,
            "question": question,
            "rows": rows,
            "action": action,
        },
        status=status,
    )


@contract_editor_required
def surety_remove(request: StaffRequest, contract_id, surety_id: int) -> HttpResponse:
    """「電子保証の削除」: asks 「削除しますか」 with the surety's values and a reason; on
    「削除する」 the surety (and its 「認証キーのお知らせ」) leave the contract's lists and search
    but stay in the 「削除・訂正の履歴」 (`corrections.surety_remove`). 404 for anyone who may
    not read the contract, 403 for a viewer."""
    contract = contract_for(request.user, contract_id)
    surety = _surety_of(contract, surety_id, current=request.method != "POST")
    form = RemovalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        done = attempt(
            request,
            lambda: corrections.surety_remove(
                surety=surety,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("電子保証を削除しました。記録は「削除・訂正の履歴」に残ります。"),
        )
        if done.ok:
            return _to_sureties(contract)
    rows = [
        (_("保証の種類"), surety.get_kind_display()),
        (_("保証事業会社"), surety.issuer),
        (_("保証契約番号"), surety.number),
    ]
    if surety.notice is not None and not surety.notice.is_removed:
        rows.append((_("認証キーのお知らせ（一緒に削除されます）"), surety.notice.filename))
    return _removal_page(
        request,
        contract,
        form,
        heading=_("電子保証の削除"),
        question=_("「%(title)s」の次の電子保証を削除します。よろしいですか。")
        % {"title": contract.title},
        rows=rows,
        action=reverse("surety-remove", args=[contract.pk, surety.pk]),
        status=400 if request.method == "POST" else 200,
    )


@contract_editor_required
def attachment_remove(request: StaffRequest, contract_id, attachment_id: int) -> HttpResponse:
    """「添付ファイルの削除」: asks 「削除しますか」 with the file's name and SHA-256 and a
    reason; on 「削除する」 the file leaves the contract's list but is kept, with the removal, in
    the 「削除・訂正の履歴」 (`corrections.attachment_remove`). 404 for anyone who may not read
    the contract, 403 for a viewer."""
    contract = contract_for(request.user, contract_id)
    attachment = _attachment_of(contract, attachment_id, current=request.method != "POST")
    form = RemovalForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        done = attempt(
            request,
            lambda: corrections.attachment_remove(
                attachment=attachment,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("添付ファイルを削除しました。記録は「削除・訂正の履歴」に残ります。"),
        )
        if done.ok:
            return redirect(reverse("contract-detail", args=[contract.pk]) + "#attachments")
    return _removal_page(
        request,
        contract,
        form,
        heading=_("添付ファイルの削除"),
        question=_("「%(title)s」の次の添付ファイルを削除します。よろしいですか。")
        % {"title": contract.title},
        rows=[
            (_("ファイル名"), attachment.filename),
            (_("SHA-256"), attachment.blob.sha256),
            (_("追加日時"), attachment.added_at.astimezone(JST).strftime("%Y-%m-%d %H:%M")),
        ],
        action=reverse("attachment-remove", args=[contract.pk, attachment.pk]),
        status=400 if request.method == "POST" else 200,
    )
