"""「契約の項目」: an organisation's custom fields (issue 15), for its admins."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keiyaku.accounts.permissions import org_admin_required
from keiyaku.audit.services import RequestMeta
from keiyaku.contracts.models import CustomField
from keiyaku.contracts.services.custom_fields import custom_field_retire, custom_field_save
from keiyaku.web.forms import CustomFieldForm
from keiyaku.web.refusals import attempt


def _organisation_id(request: HttpRequest) -> int:
    organisation_id = getattr(request.user, "organisation_id", None)
    if organisation_id is None:  # org_admin_required lets only an organisation's admins in
        raise Http404
    return int(organisation_id)


@org_admin_required
def custom_field_list(request: HttpRequest, field_id: int | None = None) -> HttpResponse:
    """The fields in their order, with a form to add one (or to change ``field_id``)."""
    fields = CustomField.objects.filter(organisation_id=_organisation_id(request))
    editing = None
    if field_id is not None:
        editing = fields.filter(pk=field_id).first()
        if editing is None:
            raise Http404
    initial = (
        {
            "label": editing.label,
            "kind": editing.kind,
            "choices": "\n".join(editing.choices),
            "required": editing.required,
        }
        if editing is not None
        else None
    )
    form = CustomFieldForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = attempt(
            request,
            lambda: custom_field_save(
                actor=request.user,  # type: ignore[arg-type]
                field_id=editing.pk if editing is not None else None,
                label=data["label"],
                kind=data["kind"],
                choices=data["choices"].splitlines(),
                required=data["required"],
                meta=RequestMeta.from_request(request),
            ),
            form=form,
            success=_("項目を保存しました。"),
        )
        if saved.result is not None:
            return redirect("custom-field-list")
    return render(
        request,
        "web/custom_fields.html",
        {"fields": fields, "form": form, "editing": editing},
        status=400 if form.errors else 200,
    )


@org_admin_required
@require_POST
def custom_field_retire_view(request: HttpRequest, field_id: int) -> HttpResponse:
    """Retire a field: no longer asked for or searchable; its values stay on the contracts."""
    if not CustomField.objects.filter(
        pk=field_id, organisation_id=_organisation_id(request)
    ).exists():
        raise Http404
    attempt(
        request,
        lambda: custom_field_retire(
            actor=request.user,  # type: ignore[arg-type]
            field_id=field_id,
            meta=RequestMeta.from_request(request),
        ),
        success=_("項目の使用をやめました。入力済みの値は案件に残ります。"),
    )
    return redirect("custom-field-list")
