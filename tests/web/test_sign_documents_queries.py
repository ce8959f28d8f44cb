"""The signing document page and its page images run a constant number of queries, whatever
the number of documents, versions and pages (issue 12: p95 0.94 s at 20 clients)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from keiyaku.contracts import services
from keiyaku.web.page_images import version_tag
from tests.flow import External, draft_contract, enter_code, last_link

PARTY = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")

PAGE_QUERIES = 6
"""Session, link with party and contract, the documents' versions with blob and key ring,
boxes, and the two counts behind 「転送する」."""
IMAGE_QUERIES = 3
"""Session, link with party and contract, the document's current version with blob and key
ring."""


@pytest.mark.django_db(transaction=True)  # the signing e-mail goes out after commit
@pytest.mark.parametrize("documents", [1, 4])
def test_the_document_page_and_a_page_image_run_a_constant_number_of_queries(
    personas, documents, django_assert_max_num_queries
):
    contract = draft_contract(personas.sender, externals=[PARTY], documents=documents, pages=3)
    services.contract_send(contract=contract, actor=personas.sender)
    link = last_link(PARTY.email)
    token = link.strip("/").split("/")[-1]
    party = Client()
    enter_code(party, link, PARTY.code)
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert party.get(link + "documents/").status_code == 200
    last = contract.documents.order_by("position").last()
    url = reverse("sign-page", args=[token, last.pk, 3])
    tag = version_tag(last.current_version().blob)
    party.get(url, {"v": tag, "w": "800"})  # rendered and stored
    with django_assert_max_num_queries(IMAGE_QUERIES):
        assert party.get(url, {"v": tag, "w": "800"}).status_code == 200
