"""Contract templates (R13): save a routing from a contract, apply one to a new draft."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import contract_editor_required
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts import services
from keiyaku.contracts.models import ContractTemplate
from keiyaku.contracts.selectors import contract_for, templates_for
from keiyaku.text_input import TextInputForm
from keiyaku.web.refusals import attempt
from keiyaku.web.views.contracts import StaffRequest


class SlotForm(TextInputForm):
    company = forms.CharField(label=gettext_lazy("会社名"), max_length=200)
    name = forms.CharField(label=gettext_lazy("氏名"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("メールアドレス"))
    access_code = forms.CharField(label=gettext_lazy("アクセスコード"), max_length=32)


def _template(request: StaffRequest, template_id: int) -> ContractTemplate:
    template = templates_for(request.user).filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


@login_required
def template_list(request: StaffRequest) -> HttpResponse:
    return render(
        request, "web/contract_templates.html", {"templates": templates_for(request.user)}
    )


@contract_editor_required
@require_POST
def template_save(request: StaffRequest, contract_id) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    attempt(
        request,
        lambda: services.template_save(
            contract=contract,
            actor=request.user,
            name=request.POST.get("name", ""),
            meta=RequestMeta.from_request(request),
        ),
        success=lambda template: (
            _("テンプレート「%(name)s」を保存しました。") % {"name": template.name}
        ),
    )
    return redirect("contract-detail", contract.pk)


@contract_editor_required
def template_apply(request: StaffRequest, contract_id, template_id: int) -> HttpResponse:
    contract = contract_for(request.user, contract_id)
    template = _template(request, template_id)
    slots = template.external_slots
    data = request.POST if request.method == "POST" else None
    forms_ = [SlotForm(data, prefix=f"slot{i}") for i in range(len(slots))]
    error = ""
    if request.method == "POST" and all(f.is_valid() for f in forms_):
        fills = [services.SlotFill(**f.cleaned_data) for f in forms_]
        applied = attempt(
            request,
            lambda: services.template_apply(
                contract=contract,
                template=template,
                actor=request.user,
                fills=fills,
                meta=RequestMeta.from_request(request),
            ),
            success=_("テンプレートから署名者を設定しました。"),
            show=False,  # the page shows it above the slots
        )
        if applied.refusal is None:
            return redirect("contract-detail", contract.pk)
        error = applied.refusal.message
    return render(
        request,
        "web/template_apply.html",
        {
            "contract": contract,
            "template": template,
            "slots": list(zip(slots, forms_, strict=True)),
            "error": error,
        },
        status=400 if request.method == "POST" else 200,
    )
