"""「署名者の画面をプレビュー」 (issue 14, clerk): a staff member sees exactly what party N will see
on its signing page (the documents' pages with every box where it is placed, the party's own
ready to be filled in), without acting for it.

Nothing of the party's is used or changed: no link is made or shown, no access code is asked or
revealed, the party is not recorded as having viewed anything; the page images are the staff
routes' (the current version, as the party's page shows it). The staff member's look is
recorded as theirs (``party.preview``), like any view of the contract.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.contracts.models import Party
from keiyaku.contracts.selectors import contract_for
from keiyaku.web.party_documents import party_documents
from keiyaku.web.views.contracts import StaffRequest


@never_cache
@login_required
def party_preview(request: StaffRequest, contract_id, party_id: int) -> HttpResponse:
    """The party's signing page as it will look, read-only, for anyone who may see the
    contract (404 otherwise, as every contract page)."""
    contract = contract_for(request.user, contract_id)
    party = get_object_or_404(Party, pk=party_id, contract=contract)
    shown, documents = party_documents(
        party,
        image_path=lambda doc, number: reverse("document-page", args=[contract.pk, doc.pk, number]),
    )
    try:
        active = int(request.GET.get("doc", shown[0][0].pk))
    except ValueError:
        active = shown[0][0].pk
    audit_record(
        event="party.preview",
        organisation=contract.organisation,
        actor=request.user,
        subject=contract.audit_subject,
        detail={"position": party.position, "name": party.name},
        meta=RequestMeta.from_request(request),
    )
    return render(
        request,
        "web/party_preview.html",
        {
            "preview": True,
            "party": party,
            "contract": contract,
            "parties": contract.parties.order_by("position", "pk"),
            "shown": shown,
            "documents": documents,
            "active": next((d for d, _v in shown if d.pk == active), shown[0][0]),
        },
    )
