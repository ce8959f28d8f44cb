"""The pages a party reads on its signing page, with the boxes over them: one builder for the
party's own page (`views/party_link`) and the staff member's preview of it (`views/preview`,
issue 14: 「署名者の画面をプレビュー」), so the preview shows exactly what the party will see."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from keiyaku.contracts.models import Box, Document, DocumentVersion, Party
from keiyaku.contracts.selectors import document_page_sizes, documents_shown_to
from keiyaku.web.page_images import DEFAULT_WIDTH, page_srcset, page_url


def party_documents(
    party: Party,
    *,
    image_path: Callable[[Document, int], str],
    values: Mapping[str, str] | None = None,
) -> tuple[list[tuple[Document, DocumentVersion]], list[dict[str, Any]]]:
    """Each document the party is shown (`documents_shown_to`) and, per document, its pages:
    size in PDF points, the image URL and srcset (`image_path(document, page number)` gives the
    path of the page image, before ``?w=``/``?v=``), the party's own boxes in reading order
    with their values (`values` as typed, by ``box_<id>``, else the stored value) and the other
    parties' boxes."""
    shown = documents_shown_to(party)
    boxes = list(Box.objects.filter(document__contract=party.contract).select_related("party"))
    documents = []
    for doc, version in shown:
        pages = []
        for number, (width, height) in enumerate(document_page_sizes(doc), start=1):
            # In reading order: the order of the tab key and of the input sheet's 次へ.
            on_page = sorted(
                (b for b in boxes if b.document_id == doc.pk and b.page == number),
                key=lambda b: (b.y, b.x),
            )
            image = image_path(doc, number)
            pages.append(
                {
                    "number": number,
                    "width": width,
                    "height": height,
                    "image": page_url(image, version.blob),
                    "srcset": page_srcset(image, version.blob),
                    # The image's shape before it loads: the page's, in whole pixels.
                    "image_height": round(DEFAULT_WIDTH * height / width),
                    "own": [
                        (b, (values or {}).get(f"box_{b.pk}", b.value))
                        for b in on_page
                        if b.party_id == party.pk
                    ],
                    "others": [b for b in on_page if b.party_id != party.pk],
                }
            )
        documents.append({"doc": doc, "version": version, "pages": pages})
    return shown, documents
