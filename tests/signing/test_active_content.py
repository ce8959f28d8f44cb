"""Active content is stripped at ingest and recorded; placeholders and portfolios are refused
(issue 10, finding 3 bullets 2 and 3, finding 9).

What is left is checked without keiyaku's own code: every object of the file read with pikepdf,
the file's bytes (no object streams after ingest, so every dictionary is plain text) and
``qpdf --list-attachments``.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path

import pikepdf
import pytest
from django.core.management import call_command
from django.test import Client

from keiyaku.contracts import services
from keiyaku.contracts.services.drafting import Upload
from keiyaku.signing.active_content import Removed
from keiyaku.signing.ingest import IngestChange, RefusedUpload, ingest_pdf
from keiyaku.storage.blobs import blob_get
from tests.flow import External, agree, last_link
from tests.outside import pdfsig, qpdf_check
from tests.pdf_corpus import KINDS, active
from tests.pdfs import pdftotext

LIMIT = 20 * 1024 * 1024

# Action types that may stay: a jump within the file, and a web link when links are kept.
_INNOCENT_ACTIONS = {"/GoTo", "/URI"}
_ACTIVE_ANNOTATIONS = {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
_ACTIVE_BYTES = re.compile(
    rb"/(JavaScript|JS|AA|Launch|GoToR|GoToE|SubmitForm|ImportData|EmbeddedFiles|EmbeddedFile|"
    rb"EF|AF|RichMedia|RichMediaContent|Movie|Sound|Screen|Rendition|XFA|NeedsRendering|"
    rb"FileAttachment|Collection)(?![A-Za-z0-9])"
)


def active_left(pdf: bytes, *, links: bool = False) -> list[str]:
    """Everything active in ``pdf``, as readable findings; empty when nothing is."""
    found = [m.group().decode() for m in _ACTIVE_BYTES.finditer(pdf)]
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        found += [f"attachment {name}" for name in doc.attachments]
        for obj in doc.objects:
            for d in _dicts(obj):
                kind = d.get("/S")
                if "/A" in d or "/Next" in d or "/OpenAction" in d:
                    for key in ("/A", "/Next", "/OpenAction"):
                        target = d.get(key)
                        if isinstance(target, pikepdf.Dictionary):
                            s = str(target.get("/S"))
                            if s not in _INNOCENT_ACTIONS or (s == "/URI" and not links):
                                found.append(f"{key} {s}")
                if str(d.get("/Subtype")) in _ACTIVE_ANNOTATIONS and "/Rect" in d:
                    found.append(f"annotation {d.get('/Subtype')}")
                if not links and d.get("/Subtype") == pikepdf.Name.Link:
                    found.append("link annotation")
                if kind == pikepdf.Name.URI and not links:
                    found.append("URI action")
    return found


def _dicts(obj):
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            yield item
            stack.extend(v for v in item.values() if _direct_container(v))
        elif isinstance(item, pikepdf.Array):
            stack.extend(v for v in item if _direct_container(v))


def _direct_container(value) -> bool:
    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect


def qpdf_attachments(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        return subprocess.run(
            ["qpdf", "--list-attachments", handle.name], capture_output=True, text=True, check=True
        ).stdout


STRIPPED = [
    active.javascript_everywhere,
    active.launch_and_outside_actions,
    active.automatic_actions,
    active.embedded_files,
    active.multimedia,
    active.links_web_and_internal,
    active.xfa_dynamic_with_fields,
    active.xfa_static,
]


@pytest.mark.parametrize("make", STRIPPED, ids=lambda make: make.__name__)
def test_active_content_is_stripped_and_recorded(make):
    data = make()
    assert active_left(data), "the input must carry active content"
    result = ingest_pdf(data, max_bytes=LIMIT)
    assert active_left(result.normalised) == []
    assert "no embedded files" in qpdf_attachments(result.normalised)
    expected = KINDS[make.__name__].changes
    assert sorted(result.changes) == sorted(expected)
    # The pages are untouched: their text is all there.
    assert "第6条（検査及び引渡し）" in pdftotext(result.normalised, first=1, last=1)
    qpdf_check(result.normalised)


def test_the_issue_file_loses_all_six_scripts_and_its_launch():
    data = active.javascript_everywhere()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        scripts = sum(
            1
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/S") == pikepdf.Name.JavaScript
        )
    assert scripts >= 6
    normalised = ingest_pdf(data, max_bytes=LIMIT).normalised
    assert b"/JavaScript" not in normalised and b"/JS" not in normalised
    assert (
        b"/Launch"
        not in ingest_pdf(active.launch_and_outside_actions(), max_bytes=LIMIT).normalised
    )


def test_a_bookmark_to_a_page_is_kept_and_its_chained_script_removed():
    normalised = ingest_pdf(active.javascript_everywhere(), max_bytes=LIMIT).normalised
    with pikepdf.open(io.BytesIO(normalised)) as pdf:
        item = pdf.Root.Outlines.First
        assert item.A.S == pikepdf.Name.GoTo and "/Next" not in item.A
        assert item.A.D[0].objgen == pdf.pages[1].obj.objgen


def test_a_form_field_keeps_its_value_without_its_scripts():
    normalised = ingest_pdf(active.javascript_everywhere(), max_bytes=LIMIT).normalised
    with pikepdf.open(io.BytesIO(normalised)) as pdf:
        (field,) = pdf.Root.AcroForm.Fields
        assert str(field.V) == "1,234,567" and "/AA" not in field


def test_an_open_action_that_is_only_a_destination_is_kept_silently():
    # Decision: a destination only picks the page and zoom a reader opens at (LibreOffice writes
    # one into every export); recording it would alarm staff about ordinary files.
    result = ingest_pdf(active.open_action_destination(), max_bytes=LIMIT)
    assert result.changes == ()
    with pikepdf.open(io.BytesIO(result.normalised)) as pdf:
        assert pdf.Root.OpenAction[0].objgen == pdf.pages[0].obj.objgen


def test_links_are_kept_when_the_organisation_allows_them():
    result = ingest_pdf(active.links_web_and_internal(), max_bytes=LIMIT, keep_links=True)
    assert result.changes == ()
    assert active_left(result.normalised, links=True) == []
    with pikepdf.open(io.BytesIO(result.normalised)) as pdf:
        web, internal = pdf.pages[0].Annots
        assert str(web.A.URI) == "https://www.example.jp/keiyaku/terms"
        assert internal.Dest[0].objgen == pdf.pages[1].obj.objgen
        assert str(pdf.Root.Outlines.First.A.URI).endswith("/yakkan")


def test_kept_links_lose_what_is_chained_to_them_and_scripts_still_go():
    def edit(pdf):
        active.annotate(
            pdf,
            0,
            pikepdf.Dictionary(
                Subtype=pikepdf.Name.Link,
                Rect=active.rect(72, 400),
                A=active.action(
                    pdf,
                    "URI",
                    URI=pikepdf.String("https://www.example.jp/"),
                    Next=active.js(pdf, "app.alert(1)"),
                ),
            ),
        )
        active.annotate(
            pdf,
            0,
            pikepdf.Dictionary(
                Subtype=pikepdf.Name.Link,
                Rect=active.rect(72, 300),
                A=active.action(pdf, "Launch", F=pikepdf.String("calc.exe")),
            ),
        )

    result = ingest_pdf(active.build(edit), max_bytes=LIMIT, keep_links=True)
    assert set(result.changes) == {
        IngestChange.JAVASCRIPT_REMOVED,
        IngestChange.EXTERNAL_ACTIONS_REMOVED,
    }
    assert active_left(result.normalised, links=True) == []
    with pikepdf.open(io.BytesIO(result.normalised)) as pdf:
        web, launcher = pdf.pages[0].Annots
        assert str(web.A.URI) == "https://www.example.jp/" and "/Next" not in web.A
        assert "/A" not in launcher


def test_xfa_is_removed_and_the_acroform_field_stays():
    normalised = ingest_pdf(active.xfa_dynamic_with_fields(), max_bytes=LIMIT).normalised
    with pikepdf.open(io.BytesIO(normalised)) as pdf:
        assert "/XFA" not in pdf.Root.AcroForm and "/NeedsRendering" not in pdf.Root
        (field,) = pdf.Root.AcroForm.Fields
        assert str(field.V) == "髙橋建設"


def test_a_dynamic_xfa_placeholder_is_refused_with_advice_to_print_to_pdf():
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(active.xfa_placeholder_page(), max_bytes=LIMIT)
    assert refused.value.code == "xfa_only"
    assert "印刷" in refused.value.message and "PDF" in refused.value.message


def test_the_placeholder_is_told_by_structure_not_by_its_wording():
    # A Japanese placeholder, or one the author rewrote, is refused the same way.
    def edit(pdf):
        active.xfa(pdf)
        pdf.Root.NeedsRendering = True

    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(active.build(edit, pages=1, text="しばらくお待ちください"), max_bytes=LIMIT)
    assert refused.value.code == "xfa_only"


def test_a_portfolio_is_refused():
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(active.portfolio(), max_bytes=LIMIT)
    assert refused.value.code == "portfolio"
    assert "ポートフォリオ" in refused.value.message


def test_every_removed_kind_is_an_ingest_change_with_a_label():
    from keiyaku.signing.ingest import INGEST_CHANGE_LABELS

    for removed in Removed:
        assert IngestChange(removed.value) in INGEST_CHANGE_LABELS


def test_an_annotation_reachable_from_the_structure_tree_loses_its_payload():
    # Taken off the page, the attachment would still be written if anything else refers to it.
    def edit(pdf):
        attached = active.annotate(
            pdf,
            0,
            pikepdf.Dictionary(
                Subtype=pikepdf.Name.FileAttachment,
                Rect=active.rect(500, 780, 16, 16),
                FS=active.filespec(pdf, "a.exe", b"MZ"),
            ),
        )
        pdf.Root.StructTreeRoot = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.StructTreeRoot,
                K=pikepdf.Dictionary(
                    S=pikepdf.Name.Annot,
                    K=pikepdf.Dictionary(Type=pikepdf.Name.OBJR, Obj=attached),
                ),
            )
        )

    result = ingest_pdf(active.build(edit), max_bytes=LIMIT)
    assert result.changes == (IngestChange.EMBEDDED_FILES_REMOVED,)
    assert b"MZ" not in result.normalised
    assert "no embedded files" in qpdf_attachments(result.normalised)


# Through a whole contract --------------------------------------------------------------------

FIRM = External("株式会社髙橋建設", "髙橋 一郎", "takahashi@example.jp", "1111")


def _complete(personas, data: bytes) -> bytes:
    contract = services.contract_create(
        actor=personas.sender, title="スクリプト入り", uploads=[Upload("active.pdf", data)]
    )
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=FIRM.company,
        name=FIRM.name,
        email=FIRM.email,
        access_code=FIRM.code,
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)
    services.contract_send(contract=contract, actor=personas.sender)
    agree(Client(), last_link(FIRM.email), FIRM.code)
    mayor = Client()
    mayor.force_login(personas.mayor)
    agree(mayor, last_link(personas.mayor.email))
    contract.refresh_from_db()
    assert contract.status == "completed"
    document = contract.documents.get()
    assert set(document.ingest_changes) == {"javascript_removed"}
    return blob_get(document.current_version().blob)


@pytest.mark.django_db(transaction=True)
def test_a_contract_from_a_scripted_file_completes_without_a_script(personas, tmp_path):
    final = _complete(personas, active.javascript_everywhere())
    assert active_left(final) == []
    assert "no embedded files" in qpdf_attachments(final)
    qpdf_check(final)
    signatures = [s for s in pdfsig(final) if not s["is_document_timestamp"]]
    assert len(signatures) == 2  # each valid, or pdfsig() raises
    path = Path(tmp_path) / "final.pdf"
    path.write_bytes(final)
    with pytest.raises(SystemExit) as exited:
        call_command("verify", str(path))
    assert exited.value.code == 0


@pytest.mark.django_db
def test_staff_see_what_was_removed_beside_the_file(personas, client):
    contract = services.contract_create(
        actor=personas.sender,
        title="添付つき",
        uploads=[Upload("attached.pdf", active.embedded_files())],
    )
    client.force_login(personas.sender)
    page = client.get(f"/contracts/{contract.pk}/").content.decode()
    assert "添付ファイル（埋め込みファイル）を削除しました。" in page


@pytest.mark.django_db
def test_the_organisation_setting_decides_whether_links_stay(personas, client):
    def upload() -> list[str]:
        contract = services.contract_create(
            actor=personas.sender,
            title="リンクつき",
            uploads=[Upload("links.pdf", active.links_web_and_internal())],
        )
        return contract.documents.get().ingest_changes

    assert personas.org.keep_pdf_links is False  # the default: links are not kept
    assert upload() == ["links_removed"]
    client.force_login(personas.admin)
    page = client.get("/admin-org/settings/")
    assert page.status_code == 200 and "keep_pdf_links" in page.content.decode()
    response = client.post(
        "/admin-org/settings/",
        {"ip_allowlist": "", "access_code_min_length": "4", "keep_pdf_links": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    personas.org.refresh_from_db()
    assert personas.org.keep_pdf_links is True
    assert upload() == []


def test_the_new_refusals_and_changes_read_in_english():
    from django.utils import translation

    from keiyaku.signing.ingest import _MESSAGES, INGEST_CHANGE_LABELS

    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    with translation.override("en"):
        for code in ("xfa_only", "portfolio", "certificate_encrypted", "protected"):
            assert not japanese.search(str(_MESSAGES[code])), code
        for removed in Removed:
            assert not japanese.search(str(INGEST_CHANGE_LABELS[IngestChange(removed.value)]))
