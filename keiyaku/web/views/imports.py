"""Importing contracts concluded elsewhere (R30): one by one, or in bulk (a ZIP of PDFs and a
CSV of metadata) with a dry run that names every bad row, as the staff CSV import does."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.import_csv import COLUMNS, import_plan, template_csv
from keiyaku.contracts.services.importing import (
    ImportFile,
    ImportItem,
    ImportMetadata,
    contracts_import,
)
from keiyaku.web.forms import (
    BulkImportForm,
    ImportForm,
    custom_values_given,
)
from keiyaku.web.refusals import attempt
from keiyaku.web.views.contracts import StaffRequest, _upload_limits


def _file(upload: UploadedFile) -> ImportFile:
    """A file Django wrote to disk is passed on as its path, unread; a small one as bytes."""
    data = (
        Path(upload.temporary_file_path())
        if isinstance(upload, TemporaryUploadedFile)
        else upload.read()
    )
    return ImportFile(filename=upload.name or "", data=data)


@contract_editor_required
def contract_import(request: StaffRequest) -> HttpResponse:
    """One contract concluded elsewhere: its metadata and PDF(s)."""
    if request.user.organisation_id is None:
        raise Http404
    form = ImportForm(
        request.POST or None, request.FILES or None, organisation=request.user.organisation
    )
    form.with_custom_fields(request.user.organisation_id)  # issue 15
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        metadata = ImportMetadata(
            title=data["title"],
            management_number=data["management_number"],
            counterparty_company=data["counterparty_company"],
            amount=data["amount"],
            contract_date=data["contract_date"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            auto_renew=data["auto_renew"],
            notice_deadline=data["notice_deadline"],
            note=data["note"],
            department=data["department"],
            custom_values=custom_values_given(form),
        )
        done = attempt(
            request,
            lambda: contracts_import(
                actor=request.user,
                items=[ImportItem(metadata=metadata, files=[_file(f) for f in data["files"]])],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("契約を取り込みました。タイムスタンプを付与しています。"),
        )
        if done.result is not None:
            return redirect("contract-detail", done.result[0].pk)
    return render(
        request,
        "web/contract_import.html",
        {"form": form, "limits": _upload_limits()},
        status=400 if form.errors else 200,
    )


@contract_editor_required
def contract_import_bulk(request: StaffRequest) -> HttpResponse:
    """A ZIP and a CSV: 「確認する」 lists every bad row and stores nothing; 「取り込む」 checks
    the same way and imports every row, or none when a row is bad."""
    if request.user.organisation_id is None:
        raise Http404
    form = BulkImportForm(request.POST or None, request.FILES or None)
    context: dict = {"form": form, "columns": [headings[0] for headings in COLUMNS.values()]}
    status = 200
    if request.method == "POST" and form.is_valid():
        zip_upload = form.cleaned_data["zip_file"]
        plan = import_plan(
            csv_data=form.cleaned_data["csv_file"].read(),
            zip_path=_file(zip_upload).data,
            actor=request.user,
        )
        context["plan"] = plan
        context["dry_run"] = "apply" not in request.POST
        if not plan.ok:
            status = 400
        elif "apply" in request.POST:
            done = attempt(
                request,
                lambda: contracts_import(
                    actor=request.user, items=plan.items, meta=RequestMeta.from_request(request)
                ),
                success=lambda contracts: (
                    ngettext(
                        "%(count)d件の契約を取り込みました。タイムスタンプを付与しています。",
                        "%(count)d件の契約を取り込みました。タイムスタンプを付与しています。",
                        len(contracts),
                    )
                    % {"count": len(contracts)}
                ),
            )
            if done.ok:
                return redirect("contract-list")
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "web/contract_import_bulk.html", context, status=status)


@contract_editor_required
def contract_import_template(request: StaffRequest) -> HttpResponse:
    """The bulk import's CSV template (UTF-8 with BOM, as Excel opens it)."""
    response = HttpResponse(
        template_csv(request.user.organisation_id), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = "attachment; filename*=UTF-8''import-template.csv"
    return response
