"""The screens a party reaches from the link in its e-mail (R15–R18): access code, documents,
agreement, reject, forward, and the completion download. No account needed.

Flow: link → access code (external) or staff login → documents as tabs → 「内容に同意する」 →
confirmation → 「署名手続きを完了する」. Reject and forward start from the document screen.

Every view here finds its party through `_link_party`, which applies the organisation's IP
allow-list (R38) to a staff party's link: page, page images, downloads, the agreement itself.
A counterparty's link is usable from anywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keiyaku.accounts.middleware import ip_refusal, organisation_allows
from keiyaku.ascii_digits import is_ascii_digits
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.forwarding import forward_code_note
from keiyaku.contracts.links import link_expiry
from keiyaku.contracts.models import Party, PartyKind
from keiyaku.contracts.selectors import (
    LinkLookup,
    document_final_versions,
    document_shown_to,
    documents_shown_to,
    download_link_state,
    sign_link_state,
)
from keiyaku.contracts.services import downloads
from keiyaku.contracts.services.boxes import box_values_clean
from keiyaku.contracts.states import LINK_DEAD_TEXT, LINK_HTTP_STATUS, LinkState
from keiyaku.contracts.timefmt import deadline_text
from keiyaku.ratelimits.limiter import rate_limited
from keiyaku.storage.blobs import blob_get
from keiyaku.web.forms import AccessCodeForm, ForwardForm, RejectForm
from keiyaku.web.page_images import (
    page_image,
    requested_width,
    version_tag,
)
from keiyaku.web.party_documents import party_documents
from keiyaku.web.refusals import attempt
from keiyaku.web.views.responses import page_image_response, pdf_response


def _session_key(party: Party) -> str:
    return f"keiyaku.sign.{party.pk}"


def _dead(request: HttpRequest, lookup: LinkLookup) -> HttpResponse:
    """The page of a dead link: its state's title and text (states.py) and HTTP status."""
    contract = lookup.link.party.contract if lookup.link else None
    organisation = contract.organisation.name if contract is not None else ""
    return render(
        request,
        "web/sign_dead.html",
        {
            # The contract (for its organisation, deadline and contact block), never its title:
            # a dead link's page is shown to whoever holds the link.
            "contract": contract,
            "state": lookup.state,
            "heading": lookup.state.label,
            # Only the locked page names the organisation; the other texts have no placeholder.
            "text": LINK_DEAD_TEXT[lookup.state] % {"organisation": organisation},
            # An expired link says which deadline passed (issue 14), a download link until
            # when it worked (R23).
            "deadline": _link_deadline(lookup) if lookup.state == LinkState.EXPIRED else "",
            "download_expired": (
                _link_deadline(lookup) if lookup.state == LinkState.DOWNLOAD_EXPIRED else ""
            ),
        },
        status=LINK_HTTP_STATUS[lookup.state],
    )


def _link_deadline(lookup: LinkLookup) -> str:
    """Until when a link works, in JST: a signing link its contract's deadline, a download
    link the end of its days (`contracts.links.link_expiry`)."""
    if lookup.link is None:
        return ""
    contract = lookup.link.party.contract
    until = link_expiry(lookup.link)
    return deadline_text(until, era=contract.organisation.deadline_wareki)


def _link_party(request: HttpRequest, lookup: LinkLookup) -> Party | HttpResponse:
    """The party behind a live link, or the page to show instead: the allow-list's refusal
    for a staff party outside the list (before anything about the link is shown), or why the
    link is dead."""
    if lookup.link is not None:
        party = lookup.link.party
        if party.kind == PartyKind.STAFF:
            staff = party.staff
            organisation = staff.organisation if staff is not None else None
            if not organisation_allows(request, organisation or party.contract.organisation):
                return ip_refusal(request)
    if lookup.state != LinkState.OK:
        return _dead(request, lookup)
    return lookup.party


def _authorised(request: HttpRequest, party: Party) -> bool:
    if party.kind == PartyKind.STAFF:
        return request.user.is_authenticated and request.user.pk == party.staff_id
    return bool(request.session.get(_session_key(party)))


def _gate(request: HttpRequest, token: str) -> Party | HttpResponse:
    """The party behind a live link that this browser has proven, or the page to show instead."""
    party = _link_party(request, sign_link_state(token))
    if isinstance(party, HttpResponse):
        return party
    if not _authorised(request, party):
        if party.kind == PartyKind.STAFF:
            return redirect_to_login(request.get_full_path())
        return redirect("sign-entry", token)
    return party


@never_cache
@rate_limited("access-code", "KEIYAKU_RATE_ACCESS_CODE")
def sign_entry(request: HttpRequest, token: str) -> HttpResponse:
    lookup = sign_link_state(token)
    party = _link_party(request, lookup)
    if isinstance(party, HttpResponse):
        return party
    if party.kind == PartyKind.STAFF:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.user.pk != party.staff_id:
            return _dead(request, LinkLookup(LinkState.INVALID))
        services.party_view(party=party, meta=RequestMeta.from_request(request))
        return redirect("sign-documents", token)
    if _authorised(request, party):
        services.party_view(party=party, meta=RequestMeta.from_request(request))
        return redirect("sign-documents", token)
    form = AccessCodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if services.party_verify_access_code(
            party=party, code=form.cleaned_data["code"], meta=RequestMeta.from_request(request)
        ):
            request.session.cycle_key()
            request.session[_session_key(party)] = True
            services.party_view(party=party, meta=RequestMeta.from_request(request))
            return redirect("sign-documents", token)
        party.refresh_from_db()
        if party.is_locked:
            return _dead(request, LinkLookup(LinkState.LOCKED, lookup.link))
        remaining = max(settings.KEIYAKU_ACCESS_CODE_ATTEMPTS - party.failed_attempts, 0)
        error = ngettext(
            "アクセスコードが正しくありません。あと%(count)s回誤るとロックされます。",
            "アクセスコードが正しくありません。あと%(count)s回誤るとロックされます。",
            remaining,
        ) % {"count": remaining}
    return render(
        request,
        "web/sign_code.html",
        {"party": party, "contract": party.contract, "form": form, "error": error},
        status=400 if error else 200,
    )


@never_cache
def sign_documents(request: HttpRequest, token: str) -> HttpResponse:
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    return _documents_page(request, party, token)


def _documents_page(
    request: HttpRequest,
    party: Party,
    token: str,
    *,
    values: Mapping[str, str] | None = None,
    error: str = "",
) -> HttpResponse:
    """Every document with its pages; the party's own boxes as inputs over the page images,
    other parties' boxes marked (their values are already drawn in the page images)."""
    shown, documents = party_documents(
        party,
        image_path=lambda doc, number: reverse("sign-page", args=[token, doc.pk, number]),
        values=values,
    )
    try:
        active = int(request.GET.get("doc", shown[0][0].pk))
    except ValueError:
        active = shown[0][0].pk
    return render(
        request,
        "web/sign_documents.html",
        {
            "token": token,
            "party": party,
            "contract": party.contract,
            "shown": shown,
            "documents": documents,
            "active": next((d for d, _v in shown if d.pk == active), shown[0][0]),
            "error": error,
        },
        status=400 if error else 200,
    )


def sign_page(request: HttpRequest, token: str, document_id: int, page: int) -> HttpResponse:
    """One page image of the version of a document the party is shown now; ``?w=`` one of
    PAGE_IMAGE_WIDTHS. Cached by the browser for good when ``?v=`` names that version."""
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    doc, version = document_shown_to(party, document_id)
    width = requested_width(request.GET.get("w"))
    if not 1 <= page <= doc.page_count or width is None:
        raise Http404
    image = page_image(version.blob, page - 1, width)
    current = request.GET.get("v") == version_tag(version.blob)
    return page_image_response(request, image, immutable=current)


def sign_download(request: HttpRequest, token: str, document_id: int) -> HttpResponse:
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    doc, version = document_shown_to(party, document_id)
    return pdf_response(blob_get(version.blob), doc.filename)


@never_cache
@require_POST
def sign_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """「内容に同意する」: show the confirmation with the exact versions being agreed to."""
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    raw = {k: str(v) for k, v in request.POST.items() if k.startswith("box_")}
    checked = attempt(request, lambda: box_values_clean(party, raw), show=False)
    if checked.refusal is not None:
        return _documents_page(request, party, token, values=raw, error=checked.refusal.message)
    cleaned = checked.result or {}
    filled = [(box, cleaned[box.pk]) for box in party.boxes.select_related("document")]
    return render(
        request,
        "web/sign_confirm.html",
        {
            "token": token,
            "party": party,
            "contract": party.contract,
            "shown": documents_shown_to(party),
            "filled": filled,
        },
    )


@never_cache
@require_POST
def sign_complete(request: HttpRequest, token: str) -> HttpResponse:
    """「署名手続きを完了する」: record the agreement; the signature follows in the background."""
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    shown: dict[int, str] = {}
    for key, value in request.POST.items():
        if key.startswith("sha256_") and is_ascii_digits(key[7:]):
            shown[int(key[7:])] = str(value)
    agreed = attempt(
        request,
        lambda: services.party_agree(
            party=party,
            shown=shown,
            values={k: str(v) for k, v in request.POST.items() if k.startswith("box_")},
            meta=RequestMeta.from_request(request),
        ),
        show=False,  # a page of its own, 409
    )
    if agreed.refusal is not None:
        return render(
            request,
            "web/sign_message.html",
            {
                "contract": party.contract,
                "title": _("署名できませんでした"),
                "message": agreed.refusal.message,
                "back": reverse("sign-documents", args=[token]),
            },
            status=409,
        )
    request.session.pop(_session_key(party), None)
    return render(request, "web/sign_done.html", {"party": party, "contract": party.contract})


@never_cache
def sign_reject(request: HttpRequest, token: str) -> HttpResponse:
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    form = RejectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rejected = attempt(
            request,
            lambda: services.party_reject(
                party=party,
                reason=form.cleaned_data["reason"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
        )
        if rejected.ok:
            return render(
                request,
                "web/sign_message.html",
                {
                    "contract": party.contract,
                    "title": _("却下しました"),
                    "message": _("この書類への署名を却下しました。送信者に通知しました。"),
                },
            )
    return render(
        request,
        "web/sign_reject.html",
        {"form": form, "party": party, "contract": party.contract, "token": token},
    )


@never_cache
def sign_forward(request: HttpRequest, token: str) -> HttpResponse:
    party = _gate(request, token)
    if isinstance(party, HttpResponse):
        return party
    form = ForwardForm(request.POST or None, initial={"company": party.company})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        forwarded = attempt(
            request,
            lambda: services.party_forward(
                party=party,
                name=data["name"],
                email=data["email"],
                company=data["company"],
                note=data["note"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
        )
        if forwarded.result is not None:
            successor = forwarded.result
            request.session.pop(_session_key(party), None)
            return render(
                request,
                "web/sign_message.html",
                {
                    "contract": party.contract,
                    "title": _("転送しました"),
                    "message": _("%(name)s 様（%(email)s）に署名依頼を転送しました。")
                    % {"name": successor.name, "email": successor.email}
                    + " "
                    + forward_code_note(party),
                },
            )
    return render(
        request,
        "web/sign_forward.html",
        {"form": form, "party": party, "contract": party.contract, "token": token},
    )


def _download_party(request: HttpRequest, lookup: LinkLookup) -> Party | HttpResponse:
    """The signer behind a live download link, or the page to show instead (expired, or a
    staff party outside its organisation's allow-list, R38). Holding the link is enough: the
    access code is not asked again (docs/security.md, "After signing")."""
    party = _link_party(request, lookup)
    if isinstance(party, HttpResponse):
        return party
    if not party.contract.is_concluded:
        raise Http404  # a download link is only issued at completion
    return party


@never_cache
def download_entry(request: HttpRequest, token: str) -> HttpResponse:
    """The completion mail's link (R23): the signed PDFs and the certificate of completion, the
    verification page, and until when this page works (KEIYAKU_DOWNLOAD_LINK_DAYS)."""
    lookup = download_link_state(token)
    party = _download_party(request, lookup)
    if isinstance(party, HttpResponse):
        return party
    contract = party.contract
    certificate = downloads.certificate_requested(contract)
    return render(
        request,
        "web/download.html",
        {
            "party": party,
            "contract": contract,
            "finals": document_final_versions(contract),
            "token": token,
            "certificate_ready": certificate is not None,
            "expires": _link_deadline(lookup),
            "verify_url": settings.PUBLIC_URL + reverse("verify"),
        },
    )


def download_document(request: HttpRequest, token: str, document_id: int) -> HttpResponse:
    """One signed PDF from the download page."""
    party = _download_party(request, download_link_state(token))
    if isinstance(party, HttpResponse):
        return party
    version = downloads.signed_version(party.contract, document_id)
    if version is None:
        raise Http404
    name = downloads.signed_filename(version)
    downloads.party_download_record(
        party=party,
        what="document.download",
        filename=name,
        sha256=version.blob.sha256,
        via="download_link",
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(blob_get(version.blob), name)


def download_certificate(request: HttpRequest, token: str) -> HttpResponse:
    """The certificate of completion from the download page; while it is being prepared, the
    download page says so."""
    party = _download_party(request, download_link_state(token))
    if isinstance(party, HttpResponse):
        return party
    pdf = downloads.certificate_requested(party.contract)
    if pdf is None:
        return redirect("download-entry", token)
    name = downloads.certificate_filename(party.contract)
    downloads.party_download_record(
        party=party,
        what="certificate.download",
        filename=name,
        sha256=hashlib.sha256(pdf).hexdigest(),
        via="download_link",
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(pdf, name)
