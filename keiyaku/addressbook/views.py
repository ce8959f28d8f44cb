"""Address-book screens: list and search, companies, contacts, CSV, and picking a party."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import can_edit_contracts, contract_editor_required
from keiyaku.addressbook import csvfile, services
from keiyaku.addressbook.forms import (
    CompanyForm,
    ContactForm,
    ExportForm,
    ImportApplyForm,
    ImportForm,
    PickContactForm,
    chosen_department,
)
from keiyaku.addressbook.selectors import companies_search, company_for, contact_for
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services as contract_services
from keiyaku.contracts.selectors import contract_for
from keiyaku.web.refusals import attempt, form_errors_show


class StaffRequest(HttpRequest):
    user: Staff


def _require_organisation(request: StaffRequest) -> None:
    if request.user.organisation_id is None:
        raise Http404


@login_required
def address_book(request: StaffRequest) -> HttpResponse:
    _require_organisation(request)
    query = request.GET.get("q", "").strip()[:200]
    companies = companies_search(request.user, query)
    return render(
        request,
        "addressbook/list.html",
        {
            "companies": companies[:500],
            "query": query,
            "export_form": ExportForm(),
            "can_edit": can_edit_contracts(request.user),
        },
    )


@contract_editor_required
def company_create(request: StaffRequest) -> HttpResponse:
    _require_organisation(request)
    form = CompanyForm(request.POST or None, staff=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = attempt(
            request,
            lambda: services.company_create(
                actor=request.user,
                name=data["name"],
                kana=data["kana"],
                note=data["note"],
                department=chosen_department(request.user, data["visibility"]),
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("会社を登録しました。"),
        )
        if created.result is not None:
            return redirect("addressbook:company", created.result.pk)
    return render(
        request,
        "addressbook/form.html",
        {"form": form, "heading": _("会社を追加")},
        status=400 if form.errors else 200,
    )


@login_required
def company_detail(request: StaffRequest, company_id: int) -> HttpResponse:
    company = company_for(request.user, company_id)
    return render(
        request,
        "addressbook/company.html",
        {
            "company": company,
            "contacts": company.contacts.order_by("name", "id"),
            "can_edit": can_edit_contracts(request.user),
        },
    )


@contract_editor_required
def company_edit(request: StaffRequest, company_id: int) -> HttpResponse:
    company = company_for(request.user, company_id)
    form = CompanyForm(
        request.POST or None,
        initial={"name": company.name, "kana": company.kana, "note": company.note},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        updated = attempt(
            request,
            lambda: services.company_update(
                company=company,
                actor=request.user,
                name=data["name"],
                kana=data["kana"],
                note=data["note"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("会社の情報を更新しました。"),
        )
        if updated.ok:
            return redirect("addressbook:company", company.pk)
    return render(
        request,
        "addressbook/form.html",
        {"form": form, "heading": _("会社の編集"), "company": company},
        status=400 if form.errors else 200,
    )


@contract_editor_required
@require_POST
def company_delete(request: StaffRequest, company_id: int) -> HttpResponse:
    company = company_for(request.user, company_id)
    deleted = attempt(
        request,
        lambda: services.company_delete(
            company=company, actor=request.user, meta=RequestMeta.from_request(request)
        ),
        success=_("会社「%(name)s」を削除しました。") % {"name": company.name},
    )
    if not deleted.ok:
        return redirect("addressbook:company", company.pk)
    return redirect("addressbook:list")


@contract_editor_required
def contact_create(request: StaffRequest, company_id: int) -> HttpResponse:
    company = company_for(request.user, company_id)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = attempt(
            request,
            lambda: services.contact_create(
                company=company,
                actor=request.user,
                meta=RequestMeta.from_request(request),
                **form.cleaned_data,
            ),
            form=form,
            success=_("連絡先を登録しました。"),
        )
        if created.ok:
            return redirect("addressbook:company", company.pk)
    return render(
        request,
        "addressbook/form.html",
        {"form": form, "heading": _("連絡先を追加"), "company": company},
        status=400 if form.errors else 200,
    )


@contract_editor_required
def contact_edit(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = contact_for(request.user, contact_id)
    form = ContactForm(
        request.POST or None,
        initial={
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "title": contact.title,
        },
    )
    if request.method == "POST" and form.is_valid():
        updated = attempt(
            request,
            lambda: services.contact_update(
                contact=contact,
                actor=request.user,
                meta=RequestMeta.from_request(request),
                **form.cleaned_data,
            ),
            form=form,
            success=_("連絡先を更新しました。"),
        )
        if updated.ok:
            return redirect("addressbook:company", contact.company_id)
    return render(
        request,
        "addressbook/form.html",
        {"form": form, "heading": _("連絡先の編集"), "company": contact.company},
        status=400 if form.errors else 200,
    )


@contract_editor_required
@require_POST
def contact_delete(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = contact_for(request.user, contact_id)
    attempt(
        request,
        lambda: services.contact_delete(
            contact=contact, actor=request.user, meta=RequestMeta.from_request(request)
        ),
        success=_("連絡先「%(name)s」を削除しました。") % {"name": contact.name},
    )
    return redirect("addressbook:company", contact.company_id)


@contract_editor_required
def contacts_import(request: StaffRequest) -> HttpResponse:
    """Upload → preview (every row, bad ones with reasons) → apply all rows, or none."""
    _require_organisation(request)
    staff = request.user
    if request.method == "POST" and "text" in request.POST:
        apply = ImportApplyForm(request.POST, staff=staff)
        if apply.is_valid():
            imported = attempt(
                request,
                lambda: services.contacts_import(
                    actor=staff,
                    text=apply.cleaned_data["text"],
                    department=chosen_department(staff, apply.cleaned_data["visibility"]),
                    meta=RequestMeta.from_request(request),
                ),
                success=lambda result: (
                    _("連絡先を%(contacts)d件取り込みました（新しい会社%(companies)d件）。")
                    % {"contacts": result.contacts, "companies": result.companies}
                ),
            )
            if imported.ok:
                return redirect("addressbook:list")
        return redirect("addressbook:import")

    form = ImportForm(request.POST or None, request.FILES or None, staff=staff)
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        visibility = form.cleaned_data["visibility"]
        previewed = attempt(
            request,
            lambda: services.import_preview(
                actor=staff,
                data=form.cleaned_data["file"].read(),
                department=chosen_department(staff, visibility),
            ),
            form=form,
        )
        if previewed.result is not None:
            text, rows = previewed.result
            bad = [row for row in rows if row.errors]
            context.update(
                rows=rows,
                bad=bad,
                apply_form=None
                if bad
                else ImportApplyForm(initial={"text": text, "visibility": visibility}, staff=staff),
            )
    return render(request, "addressbook/import.html", context, status=400 if form.errors else 200)


@login_required
def contacts_export(request: StaffRequest) -> HttpResponse:
    _require_organisation(request)
    form = ExportForm(request.GET)
    encoding = (form.is_valid() and form.cleaned_data["encoding"]) or csvfile.UTF8
    data = services.contacts_export(
        actor=request.user, encoding=encoding, meta=RequestMeta.from_request(request)
    )
    charset = "shift_jis" if encoding == csvfile.SHIFT_JIS else "utf-8"
    response = HttpResponse(data, content_type=f"text/csv; charset={charset}")
    stamp = timezone.localtime().strftime("%Y%m%d")
    filename = f"addressbook-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@contract_editor_required
@require_POST
def pick_contact(request: StaffRequest, contract_id) -> HttpResponse:
    """Add a draft contract's external party from a contact (R12 → R7)."""
    contract = contract_for(request.user, contract_id)
    form = PickContactForm(request.POST, staff=request.user)
    if not form.is_valid():
        form_errors_show(request, form)
        return redirect("contract-detail", contract.pk)
    contact = form.cleaned_data["contact"]
    attempt(
        request,
        lambda: contract_services.party_add(
            contract=contract,
            actor=request.user,
            kind="external",
            company=contact.company.name,
            name=contact.name,
            email=contact.email,
            access_code=form.cleaned_data["access_code"],
            parallel=form.cleaned_data["parallel"],
            meta=RequestMeta.from_request(request),
        ),
        success=_("アドレス帳から%(name)s 様を署名者に追加しました。") % {"name": contact.name},
    )
    return redirect("contract-detail", contract.pk)
