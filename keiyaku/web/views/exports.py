"""Downloads of many contracts at once (issue 15): the contract list's search result as CSV or
as a ZIP of its signed PDFs and certificates (R28), and an admin's export of everything the
organisation holds (R34). Streamed: the response is written as the contracts are read."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import org_admin_required
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.exports import services as exports
from keiyaku.contracts.search import SearchConditions
from keiyaku.web.forms import ContractSearchForm
from keiyaku.web.refusals import attempt
from keiyaku.web.views.contracts import StaffRequest


def _stream(chunks: Iterator[bytes], filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response


def _search(request: StaffRequest) -> SearchConditions | None:
    """The list's conditions from the query string, or None when they cannot be used (the
    list shows why)."""
    form = ContractSearchForm(request.GET, organisation_id=request.user.organisation_id)
    if not form.is_valid():
        return None

    def conditions() -> SearchConditions:
        search = form.conditions()  # BadSearch: a range whose start is after its end
        search.condition()  # WordTooLong is refused here, not in mid-stream
        return search

    return attempt(request, conditions, show=False).result


def _back_to_list(request: StaffRequest) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(reverse("contract-list") + (f"?{query}" if query else ""))


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


@login_required
def contract_export_csv(request: StaffRequest) -> HttpResponseBase:
    """「CSVで出力」: every contract of the list's search result (the conditions in the query
    string, as the list's), as CSV for Excel (`exports.result_csv`)."""
    search = _search(request)
    if search is None:
        return _back_to_list(request)
    chunks = exports.result_csv(
        staff=request.user, search=search, meta=RequestMeta.from_request(request)
    )
    return _stream(chunks, f"案件一覧_{_stamp()}.csv", "text/csv; charset=utf-8")


@login_required
def contract_export_zip(request: StaffRequest) -> HttpResponseBase:
    """「PDFをまとめてダウンロード」: the signed PDFs and certificates of the list's search result
    as one ZIP (`exports.result_zip`)."""
    search = _search(request)
    if search is None:
        return _back_to_list(request)
    chunks = exports.result_zip(
        staff=request.user, search=search, meta=RequestMeta.from_request(request)
    )
    return _stream(chunks, f"締結済み書類_{_stamp()}.zip", "application/zip")


@org_admin_required
@require_POST
def organisation_export(request: StaffRequest) -> HttpResponseBase:
    """「全件エクスポート」 (R34): everything the admin's organisation holds, as one ZIP."""
    organisation = request.user.organisation
    assert organisation is not None  # org_admin_required
    chunks = exports.organisation_export_zip(
        organisation=organisation, actor=request.user, meta=RequestMeta.from_request(request)
    )
    return _stream(
        chunks, f"全件エクスポート_{organisation.slug}_{_stamp()}.zip", "application/zip"
    )
