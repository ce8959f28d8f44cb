"""The contract screens staff use: list, create, detail, routing, send, follow-up, downloads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.audit.models import Event
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts import services
from keiyaku.contracts.custom_fields import custom_values_of
from keiyaku.contracts.list_page import (
    DEFAULT_SORT,
    BadCursor,
    Cursor,
    ListPage,
    Sort,
    contract_list_page,
)
from keiyaku.contracts.models import (
    Box,
    Contract,
    ContractShare,
    ContractStatus,
    Document,
    Party,
    PartyKind,
    SavedSearch,
)
from keiyaku.contracts.permissions import may_change_contract
from keiyaku.contracts.search import SearchConditions
from keiyaku.contracts.selectors import (
    archive_timestamps_of,
    contract_for,
    contract_progress,
    templates_for,
)
from keiyaku.contracts.services import downloads, duplicate, saved_searches, sharing, term
from keiyaku.contracts.services.confirmation import default_deadline, send_summary
from keiyaku.contracts.services.drafting import Upload
from keiyaku.contracts.services.importing import import_stamp_pending
from keiyaku.contracts.services.sureties import surety_auth_key
from keiyaku.contracts.surety_history import contract_history
from keiyaku.contracts.timefmt import JST
from keiyaku.notifications.models import OutboxMessage
from keiyaku.storage.blobs import blob_get
from keiyaku.web.forms import (
    AttachmentForm,
    CancelForm,
    ContractForm,
    ContractSearchForm,
    DeadlineForm,
    DocumentForm,
    PartyEmailForm,
    PartyForm,
    SendForm,
    ShareForm,
    SuretyForm,
    TermForm,
    UnlockForm,
    custom_values_given,
)
from keiyaku.web.history import history_lines
from keiyaku.web.page_images import page_image, requested_width, version_tag
from keiyaku.web.refusals import attempt, form_errors_show, refusal_show
from keiyaku.web.views.responses import page_image_response, pdf_response


class StaffRequest(HttpRequest):
    """A request behind `login_required`: the user is a staff member."""

    user: Staff


def _upload_limits() -> dict[str, int]:
    mb = 1024 * 1024
    return {
        "file_mb": settings.KEIYAKU_MAX_FILE_BYTES // mb,
        "total_mb": settings.KEIYAKU_MAX_CONTRACT_BYTES // mb,
        "files": settings.KEIYAKU_MAX_FILES,
    }


def _uploads(files: list[UploadedFile]) -> list[Upload]:
    """The service's uploads: a file Django wrote to disk is passed on as its path, unread
    (the service checks count and sizes first); a small one kept in memory as its bytes."""
    return [
        Upload(
            filename=f.name or "",
            data=Path(f.temporary_file_path())
            if isinstance(f, TemporaryUploadedFile)
            else f.read(),
        )
        for f in files
    ]


@login_required
def contract_list(request: StaffRequest) -> HttpResponse:
    """「案件一覧」 and its search (R28): one keyset page (`contract_list_page`) of the contracts
    that meet the search form's conditions; ``?after=``/``?before=`` carry the cursor of the
    「次へ」/「前へ」 links, with the conditions. A condition that cannot be used is shown on the
    form (in Japanese); a cursor that cannot be read is a 400 page."""
    form = ContractSearchForm(request.GET, organisation_id=request.user.organisation_id)
    page: ListPage | None = None
    search: SearchConditions | None = None
    order = DEFAULT_SORT
    if form.is_valid():
        order = form.order()
        search = attempt(request, form.conditions, form=form).result  # BadSearch: on the form
    if search is not None:
        shown = attempt(request, lambda: _list_page(request, search, order), show=False)
        if isinstance(shown.refusal, BadCursor):  # a page link whose cursor cannot be read
            return render(
                request, "web/page_refused.html", {"message": shown.refusal.message}, status=400
            )
        if shown.refusal is not None:  # a search word too long: said on the form
            refusal_show(request, shown.refusal, form=form)
        page = shown.result
    # The conditions travel with the page links (the cursor is added to them).
    kept = request.GET.copy()
    for name in ("after", "before"):
        kept.pop(name, None)
    # Each column's heading sorts by it (R28); again, the other way round.
    headings = []
    for column, label in (
        ("title", _("案件名")),
        ("management_number", _("管理番号")),
        ("counterparty_company", _("相手方")),
        ("status", _("状況")),
        ("", _("対応者")),  # the holders: computed per row, not a column to sort by
        ("last_activity_at", _("最終更新")),
    ):
        heading: dict[str, str] = {"label": label, "query": "", "aria_sort": "", "arrow": ""}
        if column:
            if order.column == column:  # again: the other way round
                name = column if order.descending else f"-{column}"
            else:  # first: times newest first, text in order
                name = f"-{column}" if column == "last_activity_at" else column
            by = kept.copy()
            by["sort"] = name
            heading["query"] = by.urlencode()
            if order.column == column:
                heading["aria_sort"] = "descending" if order.descending else "ascending"
                heading["arrow"] = " ▼" if order.descending else " ▲"
        headings.append(heading)
    return render(
        request,
        "web/contract_list.html",
        {
            "page": page,
            "rows": _list_rows(page) if page is not None else [],
            "form": form,
            "searching": search is not None and not search.is_empty,
            "query": kept.urlencode(),
            "headings": headings,
            "saved_searches": list(
                SavedSearch.objects.filter(staff=request.user).values("id", "name", "query")
            ),
        },
    )


def _list_rows(page: ListPage) -> list[dict[str, object]]:
    """Each row as the list prints it, prepared here rather than looked up by the template
    row by row (attribute lookups, `{% url %}` and `|date` were a third of the page's time)."""
    separator = pgettext("list separator", "、")
    labels = {status: str(status.label) for status in ContractStatus}
    # One reverse() a page: each row's link is the same path with its own id.
    blank = str(uuid.UUID(int=0))
    detail = reverse("contract-detail", args=[blank])
    rows = []
    for row in page.rows:
        contract = row.contract
        status = labels[ContractStatus(contract.status)]
        rows.append(
            {
                "url": detail.replace(blank, str(contract.pk)),
                "title": contract.title,
                "number": contract.management_number,
                "company": contract.counterparty_company,
                "status": contract.status,
                "status_label": f"{status} {row.label}" if contract.is_running else status,
                "undelivered": row.undelivered,
                "imported": contract.is_imported,
                "holders": separator.join(f"{h.company} {h.name}" for h in row.holders) or "—",
                "last_activity": timezone.localtime(contract.last_activity_at).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            }
        )
    return rows


def _list_page(request: StaffRequest, search: SearchConditions | None, order: Sort) -> ListPage:
    after, before = request.GET.get("after"), request.GET.get("before")
    return contract_list_page(
        request.user,
        size=settings.KEIYAKU_CONTRACT_LIST_PAGE_SIZE,
        after=Cursor.parse(after, order) if after is not None else None,
        before=Cursor.parse(before, order) if before is not None and after is None else None,
        search=search,
        sort=order,
    )


@contract_editor_required
def contract_create(request: StaffRequest) -> HttpResponse:
    if request.user.organisation_id is None:
        raise Http404
    form = ContractForm(request.POST or None, request.FILES or None)
    form.with_custom_fields(request.user.organisation_id)  # issue 15
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = attempt(
            request,
            lambda: services.contract_create(
                actor=request.user,
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
                allow_forwarding=data["allow_forwarding"],
                custom_values=custom_values_given(form),
                uploads=_uploads(data["files"]),
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("案件を作成しました。署名者を設定して送信してください。"),
        )
        if created.result is not None:
            return redirect("contract-detail", created.result.pk)
    return render(
        request,
        "web/contract_form.html",
        {"form": form, "limits": _upload_limits()},
        status=400 if form.errors else 200,
    )


@login_required
def contract_detail(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    audit_record(
        event="contract.view",
        organisation=contract.organisation,
        actor=request.user,
        subject=contract.audit_subject,
        meta=RequestMeta.from_request(request),
    )
    return _detail(request, contract)


def _detail(
    request: StaffRequest,
    contract: Contract,
    *,
    party_form: PartyForm | None = None,
    term_form: TermForm | None = None,
    surety_form: SuretyForm | None = None,
) -> HttpResponse:
    """The contract's page; with `party_form` (or `term_form`, `surety_form`), a refused
    「署名者を追加」 (or 「契約期間・更新」, 「電子保証を登録」) shown again as typed (400), so
    nothing has to be typed twice."""
    return render(
        request,
        "web/contract_detail.html",
        {
            "contract": contract,
            "custom_values": custom_values_of(contract),
            "documents": contract.documents.all(),
            "parties": contract.parties.select_related("forwarded_from").all(),
            "progress": contract_progress(contract),
            "party_form": party_form or PartyForm(organisation=contract.organisation),
            "default_deadline": default_deadline(timezone.now()),
            "templates": templates_for(request.user),
            "box_count": Box.objects.filter(document__contract=contract).count(),
            "boxes": Box.objects.filter(document__contract=contract).select_related(
                "party", "document"
            ),
            "document_form": DocumentForm(),
            # Views (and previews) stay in the audit log; the history shows what changed.
            "events": history_lines(
                Event.objects.filter(subject=contract.audit_subject)
                .exclude(event__in=["contract.view", "party.preview"])
                .order_by("id")
            ),
            "mails": OutboxMessage.objects.filter(contract=contract).order_by("id"),
            "archive_timestamps": archive_timestamps_of(contract),
            "stamp_pending": import_stamp_pending(contract),
            "can_edit": may_change_contract(request.user, contract),
            "shares": contract.shares.select_related("staff", "department"),
            "share_form": ShareForm(organisation=contract.organisation),
            # The duplicate form's own token: a double click makes one draft.
            "duplicate_once": uuid.uuid4().hex,
            "term_form": term_form
            or TermForm(
                initial={
                    "period_start": contract.period_start,
                    "period_end": contract.period_end,
                    "auto_renew": contract.auto_renew,
                    "notice_deadline": contract.notice_deadline,
                }
            ),
            "renewals": contract.renewals.order_by("created_at"),
            # R32: sureties (認証キー opened for this page only) and attachments, apart from
            # the documents.
            "sureties": [
                (surety, surety_auth_key(surety))
                for surety in contract.sureties.current().select_related("notice")
            ],
            "attachments": contract.attachments.current().select_related("blob"),
            # What was corrected or removed, kept (電子帳簿保存法's 訂正削除の履歴).
            "surety_history": contract_history(contract),
            "surety_form": surety_form or SuretyForm(),
            "attachment_form": AttachmentForm(),
        },
        status=400
        if any(f is not None and f.errors for f in (party_form, term_form, surety_form))
        else 200,
    )


def _back(contract) -> HttpResponse:
    return redirect("contract-detail", contract.pk)


@contract_editor_required
@require_POST
def party_add(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    form = PartyForm(request.POST, organisation=contract.organisation)
    if not form.is_valid():
        return _detail(request, contract, party_form=form)
    data = form.cleaned_data
    added = attempt(
        request,
        lambda: services.party_add(
            contract=contract,
            actor=request.user,
            kind=data["kind"],
            company=data["company"],
            name=data["name"],
            email=data["email"],
            access_code=data["access_code"],
            staff=data["staff"] if data["kind"] == PartyKind.STAFF else None,
            role=data["role"],
            parallel=data["parallel"],
            meta=RequestMeta.from_request(request),
        ),
        form=form,
    )
    if not added.ok:
        return _detail(request, contract, party_form=form)
    return _back(contract)


def _party(request: StaffRequest, contract_id, party_id) -> Party:
    contract = contract_for(request.user, contract_id)
    return get_object_or_404(Party, pk=party_id, contract=contract)


@contract_editor_required
@require_POST
def party_remove(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    party = _party(request, contract_id, party_id)
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.party_remove(party=party, actor=request.user, meta=meta),
    )
    return _back(party.contract)


@contract_editor_required
@require_POST
def party_move(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    party = _party(request, contract_id, party_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.party_move(party=party, actor=request.user, offset=offset, meta=meta),
    )
    return _back(party.contract)


@contract_editor_required
@require_POST
def document_add(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("追加するPDFを選択してください。"))
        return _back(contract)
    attempt(
        request,
        lambda: services.document_add(
            contract=contract,
            actor=request.user,
            upload=_uploads([form.cleaned_data["file"]])[0],
            meta=RequestMeta.from_request(request),
        ),
    )
    return _back(contract)


def _document(request: StaffRequest, contract_id, document_id) -> Document:
    contract = contract_for(request.user, contract_id)
    return get_object_or_404(Document, pk=document_id, contract=contract)


@contract_editor_required
@require_POST
def document_remove(request: StaffRequest, contract_id, document_id) -> HttpResponse:
    document = _document(request, contract_id, document_id)
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.document_remove(document=document, actor=request.user, meta=meta),
    )
    return _back(document.contract)


def _send_deadline(day) -> datetime | None:
    """The end of the chosen day (JST), or None for the default."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=JST) if day else None


@contract_editor_required
def contract_send_confirm(request: StaffRequest, contract_id) -> HttpResponse:
    """「送信内容の確認」: what 「署名依頼を送信する」 will send, asked once (issue 14). A GET
    (nothing changes); its form posts to `contract_send` with the summary's digest."""
    contract = contract_for(request.user, contract_id)
    form = SendForm(request.GET)
    if not form.is_valid():
        messages.error(request, _("署名期限の日付が正しくありません。"))
        return _back(contract)
    deadline = _send_deadline(form.cleaned_data["deadline"])
    shown = attempt(
        request,
        lambda: send_summary(contract=contract, actor=request.user, deadline=deadline),
    )
    if shown.result is None:
        return _back(contract)
    return render(
        request,
        "web/contract_send_confirm.html",
        {"contract": contract, "summary": shown.result},
    )


@contract_editor_required
@require_POST
def contract_send(request: StaffRequest, contract_id) -> HttpResponse:
    """Send after the confirmation: refused without the confirmed summary's digest."""
    contract = contract_for(request.user, contract_id)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("署名期限の日付が正しくありません。"))
        return _back(contract)
    confirmed = form.cleaned_data["summary"]
    if not confirmed:
        messages.error(request, _("送信内容を確認してから送信してください。"))
        return _back(contract)
    deadline = _send_deadline(form.cleaned_data["deadline"])
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.contract_send(
            contract=contract,
            actor=request.user,
            deadline=deadline,
            confirmed=confirmed,
            meta=meta,
        ),
        success=_("署名依頼を送信しました。"),
    )
    return _back(contract)


@contract_editor_required
@require_POST
def contract_cancel(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        form_errors_show(request, form)
        return _back(contract)
    reason, meta = form.cleaned_data["reason"], RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.contract_cancel(
            contract=contract, actor=request.user, reason=reason, meta=meta
        ),
        success=_("案件を取り消しました。"),
    )
    return _back(contract)


@contract_editor_required
@require_POST
def contract_deadline(request: StaffRequest, contract_id) -> HttpResponse:
    """Move the signing deadline to the end (23:59:59 JST) of the chosen day (issue 14)."""
    contract = contract_for(request.user, contract_id)
    form = DeadlineForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("署名期限の日付が正しくありません。"))
        return _back(contract)
    deadline = datetime.combine(form.cleaned_data["deadline"], time(23, 59, 59), tzinfo=JST)
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.contract_deadline_change(
            contract=contract, actor=request.user, deadline=deadline, meta=meta
        ),
        success=_("署名期限を変更しました。送信済みのリンクは新しい署名期限まで使えます。"),
    )
    return _back(contract)


@contract_editor_required
@require_POST
def contract_remind(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.contract_remind(contract=contract, actor=request.user, meta=meta),
        success=lambda count: _("%(count)d名にリマインドを送信しました。") % {"count": count},
    )
    return _back(contract)


@contract_editor_required
@require_POST
def party_parallel(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    party = _party(request, contract_id, party_id)
    parallel, meta = request.POST.get("parallel") == "1", RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.party_set_parallel(
            party=party, actor=request.user, parallel=parallel, meta=meta
        ),
    )
    return _back(party.contract)


@contract_editor_required
@require_POST
def party_unlock(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    return _party_access_code_post(
        request, contract_id, party_id, services.party_unlock, _("ロックを解除しました。")
    )


def _party_access_code_post(
    request: StaffRequest,
    contract_id: object,
    party_id: object,
    service: Callable[..., object],
    success: str,
) -> HttpResponse:
    """A party's access-code form (`UnlockForm`) posted to ``service`` (unlocking, or setting
    a duplicated draft's code), which checks the code and the actor's right."""
    party = _party(request, contract_id, party_id)
    form = UnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("アクセスコードが長すぎます。"))
        return _back(party.contract)
    code, meta = form.cleaned_data["access_code"], RequestMeta.from_request(request)
    attempt(
        request,
        lambda: service(party=party, actor=request.user, access_code=code, meta=meta),
        success=success,
    )
    return _back(party.contract)


@contract_editor_required
@require_POST
def party_email(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    party = _party(request, contract_id, party_id)
    form = PartyEmailForm(request.POST)
    if not form.is_valid():
        form_errors_show(request, form)
        return _back(party.contract)
    email, meta = form.cleaned_data["email"], RequestMeta.from_request(request)
    attempt(
        request,
        lambda: services.party_change_email(
            party=party, actor=request.user, email=email, meta=meta
        ),
        success=_("メールアドレスを修正し、署名依頼を再送しました。"),
    )
    return _back(party.contract)


@login_required
def document_download(request: StaffRequest, contract_id, document_id, which: str) -> HttpResponse:
    document = _document(request, contract_id, document_id)
    if which == "original":
        blob, name = document.original, document.filename
    else:
        blob, name = document.current_version().blob, document.filename
        if document.contract.is_imported:
            name = _("タイムスタンプ付き_%(filename)s") % {"filename": document.filename}
        elif document.contract.is_concluded:
            name = _("署名済み_%(filename)s") % {"filename": document.filename}
    audit_record(
        event="document.download",
        organisation=document.contract.organisation,
        actor=request.user,
        subject=document.contract.audit_subject,
        detail={"filename": name, "sha256": blob.sha256, "which": which},
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(blob_get(blob), name)


@login_required
def document_page(request: StaffRequest, contract_id, document_id, page: int) -> HttpResponse:
    """One page image of the document's current version; ``?w=`` one of PAGE_IMAGE_WIDTHS.
    Cached by the browser for good when ``?v=`` names that version."""
    document = _document(request, contract_id, document_id)
    width = requested_width(request.GET.get("w"))
    if not 1 <= page <= document.page_count or width is None:
        raise Http404
    version = (
        document.versions.select_related("blob__keyring").order_by("-seq").first()
    )  # the current version, with what page_image reads
    assert version is not None  # every document is created with its first version
    blob = version.blob
    image = page_image(blob, page - 1, width)
    current = request.GET.get("v") == version_tag(blob)
    return page_image_response(request, image, immutable=current)


@login_required
def certificate_download(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    if not contract.has_certificate:
        raise Http404
    pdf = downloads.certificate_requested(contract)
    if pdf is None:
        # Completed before certificates were signed and stored, or renewed since (issue 14):
        # the worker signs one now; a web request never waits for a time-stamp authority.
        messages.info(
            request,
            _("締結証明書を作成しています。1分ほどしてから、もう一度ダウンロードしてください。"),
        )
        return _back(contract)
    audit_record(
        event="certificate.download",
        organisation=contract.organisation,
        actor=request.user,
        subject=contract.audit_subject,
        meta=RequestMeta.from_request(request),
    )
    name = downloads.certificate_filename(contract)
    return pdf_response(pdf, name)


@contract_editor_required
@require_POST
def contract_share_add(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    form = ShareForm(request.POST, organisation=contract.organisation)
    if not form.is_valid():
        messages.error(request, _("共有先の職員または所属をひとつ選んでください。"))
        return _back(contract)
    attempt(
        request,
        lambda: sharing.contract_share_add(
            contract=contract,
            actor=request.user,
            staff=form.cleaned_data["staff"],
            department=form.cleaned_data["department"],
            meta=RequestMeta.from_request(request),
        ),
        success=_("共有しました。"),
    )
    return _back(contract)


@contract_editor_required
@require_POST
def contract_share_remove(request: StaffRequest, contract_id, share_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    share = get_object_or_404(ContractShare, pk=share_id, contract=contract)
    meta = RequestMeta.from_request(request)
    attempt(
        request,
        lambda: sharing.contract_share_remove(share=share, actor=request.user, meta=meta),
        success=_("共有を解除しました。"),
    )
    return _back(contract)


@login_required
@require_POST
def search_save(request: StaffRequest) -> HttpResponse:
    """「この条件を保存」 (R28): the search now on the list, under a name of the staff member's."""
    query = request.POST.get("query", "")[:4000]
    attempt(
        request,
        lambda: saved_searches.saved_search_save(
            actor=request.user,
            name=request.POST.get("name", ""),
            query=query,
            meta=RequestMeta.from_request(request),
        ),
        success=_("検索条件を保存しました。"),
    )
    return redirect(f"{reverse('contract-list')}?{query}" if query else reverse("contract-list"))


@login_required
@require_POST
def search_delete(request: StaffRequest, saved_id: int) -> HttpResponse:
    """Delete one of the staff member's saved searches; another's is a 404."""
    if not SavedSearch.objects.filter(pk=saved_id, staff=request.user).exists():
        raise Http404
    attempt(
        request,
        lambda: saved_searches.saved_search_delete(
            actor=request.user, saved_id=saved_id, meta=RequestMeta.from_request(request)
        ),
        success=_("保存した検索を削除しました。"),
    )
    return redirect("contract-list")


@contract_editor_required
@require_POST
def contract_term(request: StaffRequest, contract_id) -> HttpResponse:
    """「契約期間・更新」: the period, automatic renewal and notice deadline (R31), any state."""
    contract = contract_for(request.user, contract_id)
    form = TermForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        changed = attempt(
            request,
            lambda: term.contract_term_change(
                contract=contract,
                actor=request.user,
                period_start=data["period_start"],
                period_end=data["period_end"],
                auto_renew=data["auto_renew"],
                notice_deadline=data["notice_deadline"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("契約期間・更新を保存しました。"),
        )
        if changed.ok:
            return _back(contract)
    return _detail(request, contract, term_form=form)


@contract_editor_required
@require_POST
def contract_duplicate(request: StaffRequest, contract_id) -> HttpResponse:
    """「複製して新しい下書きを作成」 (issue 14): from any state; to the new draft."""
    contract = contract_for(request.user, contract_id)
    meta = RequestMeta.from_request(request)
    made = attempt(
        request,
        lambda: duplicate.contract_duplicate(
            contract=contract,
            actor=request.user,
            once=request.POST.get("once", "")[:64],
            as_renewal=request.POST.get("as_renewal") == "1",
            meta=meta,
        ),
        success=_(
            "複製して新しい下書きを作成しました。"
            "事業者のアクセスコードを設定し、内容を確認してから送信してください。"
        ),
    )
    if made.result is None:
        return _back(contract)
    return redirect("contract-detail", made.result.pk)


@contract_editor_required
@require_POST
def party_access_code(request: StaffRequest, contract_id, party_id) -> HttpResponse:
    """An external party's access code on a draft (a duplicated draft's parties have none)."""
    return _party_access_code_post(
        request,
        contract_id,
        party_id,
        duplicate.party_set_access_code,
        _("アクセスコードを設定しました。"),
    )
