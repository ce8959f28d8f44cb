"""Organisation administration screens (管理): staff, departments, CSV import, settings, audit.

Every screen is for the organisation's admins and reads only their own organisation's rows;
another organisation's ids give 404. The platform operator's screen creates organisations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku import excel_csv
from keiyaku.accounts import services
from keiyaku.accounts.contacts import CONTACT_KEYS
from keiyaku.accounts.csv_import import staff_csv, staff_csv_plan, template_csv
from keiyaku.accounts.forms import (
    AuditFilterForm,
    ContactForm,
    DepartmentForm,
    OrganisationCreateForm,
    OrganisationSettingsForm,
    StaffForm,
    StaffImportApplyForm,
    StaffImportForm,
)
from keiyaku.accounts.models import Department, Organisation, Staff
from keiyaku.accounts.network import client_ip
from keiyaku.accounts.permissions import operator_required, org_admin_required
from keiyaku.accounts.selectors import department_tree, staff_of
from keiyaku.audit.models import Event
from keiyaku.audit.selectors import events_of
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.web.refusals import attempt


class AdminRequest(HttpRequest):
    user: Staff


def _organisation(request: AdminRequest) -> Organisation:
    organisation = request.user.organisation
    assert organisation is not None  # org_admin_required
    return organisation


# --- staff -------------------------------------------------------------------------------------


@org_admin_required
def staff_list(request: AdminRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    rows = staff_of(_organisation(request), query=query)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "accounts/staff_list.html", {"page": page, "q": query})


def _staff_initial(staff: Staff) -> dict:
    return {
        "display_name": staff.display_name,
        "kana": staff.kana,
        "username": staff.username,
        "email": staff.email,
        "department": staff.department_id,
        "roles": staff.roles,
        "is_active": staff.is_active,
    }


@org_admin_required
def staff_create(request: AdminRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = StaffForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        invited = attempt(
            request,
            lambda: services.staff_invite(
                organisation=organisation,
                actor=request.user,
                username=data["username"],
                display_name=data["display_name"],
                kana=data["kana"],
                email=data["email"],
                department=data["department"],
                roles=data["roles"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=lambda staff: (
                _("%(name)s さんを登録し、パスワード設定のメールを送りました。")
                % {"name": staff.label}
            ),
        )
        if invited.ok:
            return redirect("orgadmin:staff-list")
    return render(
        request,
        "accounts/staff_form.html",
        {"form": form, "staff": None},
        status=400 if form.errors else 200,
    )


@org_admin_required
def staff_edit(request: AdminRequest, staff_id: int) -> HttpResponse:
    organisation = _organisation(request)
    staff = get_object_or_404(Staff, pk=staff_id, organisation=organisation)
    form = StaffForm(request.POST or None, organisation=organisation, initial=_staff_initial(staff))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        updated = attempt(
            request,
            lambda: services.staff_update(
                staff=staff,
                actor=request.user,
                username=data["username"],
                display_name=data["display_name"],
                kana=data["kana"],
                email=data["email"],
                department=data["department"],
                roles=data["roles"],
                is_active=data["is_active"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=lambda saved: _("%(name)s さんの情報を保存しました。") % {"name": saved.label},
        )
        if updated.ok:
            return redirect("orgadmin:staff-list")
    return render(
        request,
        "accounts/staff_form.html",
        {"form": form, "staff": staff},
        status=400 if form.errors else 200,
    )


# --- departments -------------------------------------------------------------------------------


@org_admin_required
def department_list(request: AdminRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = DepartmentForm(request.POST or None, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        created = attempt(
            request,
            lambda: services.department_create(
                organisation=organisation,
                actor=request.user,
                name=form.cleaned_data["name"],
                parent=form.cleaned_data["parent"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("所属を追加しました。"),
        )
        if created.ok:
            return redirect("orgadmin:department-list")
    return render(
        request,
        "accounts/department_list.html",
        {"form": form, "tree": [(d, "　" * depth) for d, depth in department_tree(organisation)]},
        status=400 if form.errors else 200,
    )


@org_admin_required
def department_edit(request: AdminRequest, department_id: int) -> HttpResponse:
    organisation = _organisation(request)
    department = get_object_or_404(Department, pk=department_id, organisation=organisation)
    form = DepartmentForm(
        request.POST or None,
        organisation=organisation,
        department=department,
        initial={"name": department.name, "parent": department.parent_id},
    )
    if request.method == "POST" and form.is_valid():
        updated = attempt(
            request,
            lambda: services.department_update(
                department=department,
                actor=request.user,
                name=form.cleaned_data["name"],
                parent=form.cleaned_data["parent"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("所属を保存しました。"),
        )
        if updated.ok:
            return redirect("orgadmin:department-list")
    return render(
        request,
        "accounts/department_form.html",
        {"form": form, "department": department},
        status=400 if form.errors else 200,
    )


# --- CSV import --------------------------------------------------------------------------------


@org_admin_required
def staff_import(request: AdminRequest) -> HttpResponse:
    """Upload → preview listing every bad row (nothing saved) → apply all rows or none."""
    organisation = _organisation(request)
    form = StaffImportForm(request.POST or None, request.FILES or None)
    context: dict = {"form": form}
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        plan = staff_csv_plan(data, organisation=organisation, update=form.cleaned_data["update"])
        context["plan"] = plan
        if plan.ok:
            context["apply_form"] = StaffImportApplyForm(
                initial={
                    "payload": _as_utf8(data),
                    "update": form.cleaned_data["update"],
                }
            )
        else:
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/staff_import.html", context, status=status)


def _as_utf8(data: bytes) -> str:
    return excel_csv.decode(data)


@org_admin_required
@require_POST
def staff_import_apply(request: AdminRequest) -> HttpResponse:
    form = StaffImportApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("取り込む内容がありません。もう一度CSVを選んでください。"))
        return redirect("orgadmin:staff-import")
    applied = attempt(
        request,
        lambda: services.staff_import_apply(
            organisation=_organisation(request),
            actor=request.user,
            data=form.cleaned_data["payload"].encode("utf-8"),
            update=form.cleaned_data["update"],
            meta=RequestMeta.from_request(request),
        ),
        success=lambda counts: (
            _("取り込みました: 新規登録 %(created)d 名、更新 %(updated)d 名。")
            % {"created": counts[0], "updated": counts[1]}
        ),
    )
    if not applied.ok:
        return redirect("orgadmin:staff-import")
    return redirect("orgadmin:staff-list")


@org_admin_required
def staff_export(request: AdminRequest) -> HttpResponse:
    """Every staff member of the organisation in the import format."""
    with translation.override(settings.LANGUAGE_CODE):  # role names as the import reads them
        data = staff_csv(staff_of(_organisation(request)))
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''staff.csv"
    return response


@org_admin_required
def staff_import_template(request: AdminRequest) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''staff-template.csv"
    return response


# --- organisation settings ---------------------------------------------------------------------


@org_admin_required
def organisation_settings(request: AdminRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = OrganisationSettingsForm(
        request.POST or None,
        initial={
            "include_subdepartments": organisation.include_subdepartments,
            "ip_allowlist": organisation.ip_allowlist,
            "access_code_min_length": organisation.access_code_min_length,
            "keep_pdf_links": organisation.keep_pdf_links,
            "deadline_wareki": organisation.deadline_wareki,
            "renewal_alert_days": ",".join(str(n) for n in organisation.renewal_alert_days),
        },
    )
    if request.method == "POST" and form.is_valid():
        saved = attempt(
            request,
            lambda: services.organisation_update_settings(
                organisation=organisation,
                actor=request.user,
                include_subdepartments=form.cleaned_data["include_subdepartments"],
                ip_allowlist=form.cleaned_data["ip_allowlist"],
                current_ip=client_ip(request),
                confirm_lockout=form.cleaned_data["confirm_lockout"],
                access_code_min_length=form.cleaned_data["access_code_min_length"],
                keep_pdf_links=form.cleaned_data["keep_pdf_links"],
                deadline_wareki=form.cleaned_data["deadline_wareki"],
                renewal_alert_days=form.cleaned_data["renewal_alert_days"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("設定を保存しました。"),
        )
        if saved.ok:
            return redirect("orgadmin:settings")
    return render(
        request,
        "accounts/organisation_settings.html",
        {"form": form, "organisation": organisation, "address": client_ip(request)},
        status=400 if form.errors else 200,
    )


# --- contact blocks (issue 14) -----------------------------------------------------------------


@org_admin_required
def contact_edit(request: AdminRequest, department_id: int | None = None) -> HttpResponse:
    """The contact block (「問い合わせ先」) of the organisation, or of one of its departments,
    that counterparties see on every page and in every mail."""
    organisation = _organisation(request)
    owner: Organisation | Department = organisation
    if department_id is not None:
        owner = get_object_or_404(Department, pk=department_id, organisation=organisation)
    form = ContactForm(
        request.POST or None,
        initial={f"contact_{key}": getattr(owner, f"contact_{key}") for key in CONTACT_KEYS},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = attempt(
            request,
            lambda: services.contact_update(
                owner=owner,
                actor=request.user,
                meta=RequestMeta.from_request(request),
                **{key: data[f"contact_{key}"] for key in CONTACT_KEYS},
            ),
            form=form,
            success=_("問い合わせ先を保存しました。"),
        )
        if saved.ok:
            return redirect(request.path)
    return render(
        request,
        "accounts/contact_form.html",
        {
            "form": form,
            "organisation": organisation,
            "department": owner if department_id is not None else None,
        },
        status=400 if form.errors else 200,
    )


# --- audit log ---------------------------------------------------------------------------------


def _audit_rows(request: AdminRequest):
    organisation = _organisation(request)
    form = AuditFilterForm(request.GET or None, organisation=organisation)
    if form.is_bound and not form.is_valid():
        return form, Event.objects.none()
    data = form.cleaned_data if form.is_bound else {}
    rows = events_of(
        organisation,
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        actor_id=data.get("actor"),
        event=data.get("event") or "",
        contract=data.get("contract") or "",
    )
    return form, rows


@org_admin_required
def audit_list(request: AdminRequest) -> HttpResponse:
    form, rows = _audit_rows(request)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/audit_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


@org_admin_required
def audit_export(request: AdminRequest) -> StreamingHttpResponse:
    """The search result as CSV for Excel: UTF-8 with BOM, times in JST."""
    form, rows = _audit_rows(request)
    if form.errors:
        raise Http404
    audit_record(
        event="audit.export",
        organisation=_organisation(request),
        actor=request.user,
        detail={"filters": request.GET.dict()},
        meta=RequestMeta.from_request(request),
    )

    header = [
        _("番号"),
        _("日時"),
        _("操作"),
        _("操作者"),
        _("対象"),
        _("IPアドレス"),
        _("ブラウザ"),
        _("詳細"),
        _("ハッシュ"),
    ]

    def lines() -> Iterator[Sequence[object]]:
        yield header
        for entry in rows.iterator(chunk_size=1000):
            yield [
                entry.pk,
                timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                entry.label,
                entry.actor_label,
                entry.subject,
                entry.ip or "",
                entry.user_agent,
                json.dumps(entry.detail, ensure_ascii=False) if entry.detail else "",
                entry.hash,
            ]

    response = StreamingHttpResponse(
        excel_csv.lines(lines()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = "attachment; filename*=UTF-8''audit-log.csv"
    return response


# --- platform operator -------------------------------------------------------------------------


@operator_required
def organisation_list(request: AdminRequest) -> HttpResponse:
    form = OrganisationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = attempt(
            request,
            lambda: services.organisation_create_with_admin(
                name=data["name"],
                slug=data["slug"],
                admin_username=data["admin_username"],
                admin_name=data["admin_name"],
                admin_email=data["admin_email"],
                is_trial=data["is_trial"],
                actor=request.user,
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=lambda made: (
                _("%(name)s を作成し、管理者 %(admin)s さんにパスワード設定のメールを送りました。")
                % {"name": made[0].name, "admin": made[1].label}
            ),
        )
        if created.ok:
            return redirect("orgadmin:organisation-list")
    return render(
        request,
        "accounts/organisation_list.html",
        {"form": form, "organisations": Organisation.objects.order_by("name")},
        status=400 if form.errors else 200,
    )
