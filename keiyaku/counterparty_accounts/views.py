"""The counterparty account's pages (R3): start (one-time link by e-mail), the link's page,
the TOTP step, the list of signed contracts with their downloads, TOTP settings, sign-out.

Views parse input, call one service or selector and render; who is signed in comes from
`session.py`, which never reads the staff login.
"""

from __future__ import annotations

import hashlib

import segno
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.selectors import document_final_versions
from keiyaku.contracts.services import downloads
from keiyaku.counterparty_accounts import services
from keiyaku.counterparty_accounts.forms import EmailForm
from keiyaku.counterparty_accounts.selectors import parties_signed_by, party_of_account
from keiyaku.counterparty_accounts.session import (
    account_pending,
    account_required,
    account_sign_in,
    account_sign_out,
    current_account,
    pending_account,
)
from keiyaku.login import totp
from keiyaku.login.forms import CodeForm
from keiyaku.storage.blobs import blob_get
from keiyaku.web.refusals import attempt
from keiyaku.web.views.responses import pdf_response

ENROL_SECRET_KEY = "counterparty_account.enrol_secret"  # noqa: S105 - a session key


@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """Registration and sign-in are one step: an e-mail address, then the link mailed to it."""
    if request.method == "GET" and current_account(request) is not None:
        return redirect("counterparty_accounts:contracts")
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        sent = attempt(
            request,
            lambda: services.signin_link_request(
                email=form.cleaned_data["email"], meta=RequestMeta.from_request(request)
            ),
            show=False,
        )
        if sent.refusal is not None:
            return render(
                request,
                "counterparty_accounts/start.html",
                {"form": form, "error": sent.refusal.message},
                status=429 if sent.refusal.code == "rate_limited" else 400,
            )
        return render(
            request,
            "counterparty_accounts/sent.html",
            {"email": form.cleaned_data["email"], "minutes": settings.KEIYAKU_ACCOUNT_LINK_MINUTES},
        )
    return render(
        request,
        "counterparty_accounts/start.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@never_cache
def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST uses the link: a mail program that opens links to check them
    must not use up a single-use link."""
    if request.method != "POST":
        checked = attempt(request, lambda: services.signin_link_check(token), show=False)
        if checked.refusal is not None:
            return _link_dead(request, checked.refusal.message)
        return render(request, "counterparty_accounts/link.html", {"token": token})
    used = attempt(
        request,
        lambda: services.signin_link_use(token=token, meta=RequestMeta.from_request(request)),
        show=False,
    )
    if used.refusal is not None:
        return _link_dead(request, used.refusal.message)
    assert used.result is not None
    if used.result.needs_totp:
        account_pending(request, used.result.account)
        return redirect("counterparty_accounts:totp")
    account_sign_in(request, used.result.account)
    return redirect("counterparty_accounts:contracts")


def _link_dead(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request,
        "counterparty_accounts/link_dead.html",
        {"message": message, "form": EmailForm()},
        status=410,
    )


@never_cache
def totp_step(request: HttpRequest) -> HttpResponse:
    """The TOTP code after the one-time link, for an account that set it up."""
    account = pending_account(request)
    if account is None:
        return redirect("counterparty_accounts:start")
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        checked = attempt(
            request,
            lambda: services.totp_signin(
                account=account,
                code=form.cleaned_data["code"],
                meta=RequestMeta.from_request(request),
            ),
            show=False,
        )
        if checked.refusal is None:
            account.refresh_from_db()
            account_sign_in(request, account)
            return redirect("counterparty_accounts:contracts")
        error = checked.refusal.message
    return render(
        request,
        "counterparty_accounts/totp.html",
        {"form": form, "error": error},
        status=400 if error else 200,
    )


@never_cache
@account_required
def contracts(request: HttpRequest) -> HttpResponse:
    account = request.counterparty_account  # type: ignore[attr-defined]
    rows = []
    for party in parties_signed_by(account):
        contract = party.contract
        rows.append(
            {
                "party": party,
                "contract": contract,
                "finals": document_final_versions(contract) if contract.is_concluded else [],
            }
        )
    return render(
        request,
        "counterparty_accounts/contracts.html",
        {
            "account": account,
            "rows": rows,
            "verify_url": settings.PUBLIC_URL + reverse("verify"),
        },
    )


def _party(request: HttpRequest, party_id: int):
    party = party_of_account(request.counterparty_account, party_id)  # type: ignore[attr-defined]
    if party is None or not party.contract.is_concluded:
        raise Http404
    return party


@account_required
def document_download(request: HttpRequest, party_id: int, document_id: int) -> HttpResponse:
    party = _party(request, party_id)
    version = downloads.signed_version(party.contract, document_id)
    if version is None:
        raise Http404
    name = downloads.signed_filename(version)
    services.account_download_record(
        account=request.counterparty_account,  # type: ignore[attr-defined]
        what="document.download",
        contract_id=str(party.contract_id),
        filename=name,
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(blob_get(version.blob), name)


@account_required
def certificate_download(request: HttpRequest, party_id: int) -> HttpResponse:
    party = _party(request, party_id)
    pdf = downloads.certificate_requested(party.contract)
    if pdf is None:
        return render(
            request,
            "counterparty_accounts/message.html",
            {
                "title": _("締結証明書を作成しています"),
                "message": _(
                    "締結証明書を作成しています。1分ほどしてから、もう一度ダウンロードしてください。"
                ),
            },
        )
    name = downloads.certificate_filename(party.contract)
    services.account_download_record(
        account=request.counterparty_account,  # type: ignore[attr-defined]
        what="certificate.download",
        contract_id=str(party.contract_id),
        filename=f"{name} ({hashlib.sha256(pdf).hexdigest()})",
        meta=RequestMeta.from_request(request),
    )
    return pdf_response(pdf, name)


@never_cache
@account_required
def security(request: HttpRequest) -> HttpResponse:
    """TOTP: set it up (the staff login's enrolment page), or remove it with a current code."""
    account = request.counterparty_account  # type: ignore[attr-defined]
    form = CodeForm(request.POST or None)
    error = ""
    if account.has_totp:
        if request.method == "POST" and form.is_valid():
            removed = attempt(
                request,
                lambda: services.totp_remove(
                    account=account,
                    code=form.cleaned_data["code"],
                    meta=RequestMeta.from_request(request),
                ),
                show=False,
                success=_("2段階認証を解除しました。"),
            )
            if removed.refusal is None:
                account_sign_in(request, account)
                return redirect("counterparty_accounts:security")
            error = removed.refusal.message
        return render(
            request,
            "counterparty_accounts/security.html",
            {"account": account, "form": form, "error": error},
            status=400 if error else 200,
        )
    secret = request.session.get(ENROL_SECRET_KEY) or totp.random_secret()
    request.session[ENROL_SECRET_KEY] = secret
    if request.method == "POST" and form.is_valid():
        enrolled = attempt(
            request,
            lambda: services.totp_enrol(
                account=account,
                secret=secret,
                code=form.cleaned_data["code"],
                meta=RequestMeta.from_request(request),
            ),
            show=False,
            success=_(
                "2段階認証を設定しました。次回から、メールのリンクの後に確認コードを入力します。"
            ),
        )
        if enrolled.refusal is None:
            request.session.pop(ENROL_SECRET_KEY, None)
            account_sign_in(request, account)
            return redirect("counterparty_accounts:security")
        error = enrolled.refusal.message
    uri = totp.provisioning_uri(secret, account=account.email, issuer="keiyaku")
    return render(
        request,
        "counterparty_accounts/security.html",
        {
            "account": account,
            "form": form,
            "error": error,
            "secret": secret,
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "uri": uri,
            # An <img> with a data: URI: the Content-Security-Policy allows it, no script.
            "qr": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
        },
        status=400 if error else 200,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    account_sign_out(request)
    return redirect("counterparty_accounts:start")
