"""A contract's electronic sureties and attachments (R32), on its page: add a surety (with its
「認証キーのお知らせ」), add an attachment, download one. Attachments are never signed and are
shown apart from the contract's documents (「添付ファイル（署名対象外）」)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts.models import Attachment
from keiyaku.contracts.selectors import contract_for
from keiyaku.contracts.services import sureties
from keiyaku.storage.blobs import blob_get
from keiyaku.web.forms import AttachmentForm, SuretyForm
from keiyaku.web.refusals import attempt
from keiyaku.web.views.contracts import StaffRequest, _back, _detail, _uploads
from keiyaku.web.views.responses import pdf_response


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
                values=sureties.SuretyValues(
                    kind=data["kind"],
                    issuer=data["issuer"],
                    number=data["number"],
                    auth_key=data["auth_key"],
                    amount=data["amount"],
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                ),
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
