"""「APIトークン」: the organisation's admins make, list and revoke its API tokens (R40).

A new token is shown once, on the answer to the form that made it (never kept in the
session, never shown again: keiyaku keeps only its keyed hash).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from keiyaku.accounts.models import Staff
from keiyaku.accounts.permissions import org_admin_required
from keiyaku.api.models import ApiToken, Scope
from keiyaku.api.tokens import api_token_create, api_token_revoke
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.timefmt import JST
from keiyaku.text_input import TextInputForm
from keiyaku.web.forms import DateInput
from keiyaku.web.refusals import attempt

ORGANISATION_WIDE = "organisation"


class ApiTokenForm(TextInputForm):
    name = forms.CharField(label=gettext_lazy("名前"), max_length=100)
    scope = forms.ChoiceField(label=gettext_lazy("権限"), choices=Scope.choices)
    acting = forms.ChoiceField(
        label=gettext_lazy("操作する職員"),
        help_text=gettext_lazy(
            "トークンはこの職員が見られる案件だけを扱い、この職員ができる操作だけができます。"
            "「組織全体」は、作成した管理者として組織のすべての案件を扱います。"
        ),
    )
    expires_on = forms.DateField(label=gettext_lazy("有効期限（この日まで）"), widget=DateInput)

    def __init__(self, *args: object, organisation_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        members = Staff.objects.filter(organisation_id=organisation_id, is_active=True).order_by(
            "username"
        )
        acting = self.fields["acting"]
        assert isinstance(acting, forms.ChoiceField)
        acting.choices = [
            (ORGANISATION_WIDE, _("組織全体（管理者として）")),
            *((str(m.pk), f"{m.label}（{m.username}）") for m in members),
        ]


class AdminRequest(HttpRequest):
    user: Staff


@org_admin_required
def api_token_list(request: AdminRequest) -> HttpResponse:
    """The tokens, newest first, and the form that makes one; a made token shown once."""
    organisation_id = request.user.organisation_id
    assert organisation_id is not None
    form = ApiTokenForm(
        request.POST or None,
        organisation_id=organisation_id,
        initial={"expires_on": timezone.localdate() + timedelta(days=90), "scope": Scope.READ},
    )
    secret = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        wide = data["acting"] == ORGANISATION_WIDE
        staff = (
            None
            if wide
            else Staff.objects.filter(pk=data["acting"], organisation_id=organisation_id).first()
        )
        made = attempt(
            request,
            lambda: api_token_create(
                actor=request.user,
                name=data["name"],
                scope=data["scope"],
                staff=staff,
                organisation_wide=wide,
                expires_at=datetime.combine(data["expires_on"], time(23, 59, 59), tzinfo=JST),
                meta=RequestMeta.from_request(request),
            ),
            form=form,
        )
        if made.result is not None:
            secret = made.result.secret
            form = ApiTokenForm(organisation_id=organisation_id, initial=form.initial)
    response = render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "secret": secret,
            "tokens": ApiToken.objects.filter(organisation_id=organisation_id).select_related(
                "staff", "created_by"
            ),
            "now": timezone.now(),
        },
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@org_admin_required
@require_POST
def api_token_revoke_view(request: AdminRequest, token_id: int) -> HttpResponse:
    attempt(
        request,
        lambda: api_token_revoke(
            actor=request.user, token_id=token_id, meta=RequestMeta.from_request(request)
        ),
        success=_("APIトークンを無効にしました。"),
    )
    return redirect("orgadmin:api-token-list")
