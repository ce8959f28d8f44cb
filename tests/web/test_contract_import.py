"""The import screens (R30): one contract from a form; many from a ZIP and a CSV, with a dry run
naming every bad row; and acceptance 3 of issue 15 (a 50 MB import, verified from outside)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from keiyaku import excel_csv
from keiyaku.contracts.import_csv import COLUMNS
from keiyaku.contracts.models import Contract, VersionKind
from keiyaku.pki.service import get_authority
from keiyaku.storage.blobs import blob_get
from tests.flow import keiyaku_verify
from tests.outside import openssl_verify_timestamps
from tests.pdfs import make_pdf, make_scanned_pdf

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = [headings[0] for headings in COLUMNS.values()]


def _row(**values: str) -> list[str]:
    keys = list(COLUMNS)
    return [values.get(key, "") for key in keys]


def _zip(**files: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _post(client: Client, rows: list[list[str]], archive: bytes, *, apply: bool, encoding="utf-8"):
    csv = excel_csv.encode([HEADER, *rows], encoding=encoding)
    return client.post(
        "/contracts/import/bulk/",
        {
            "csv_file": SimpleUploadedFile("import.csv", csv),
            "zip_file": SimpleUploadedFile("pdfs.zip", archive),
            "apply" if apply else "dry_run": "1",
        },
    )


@pytest.fixture
def sender(personas) -> Client:
    client = Client()
    client.force_login(personas.sender)
    return client


def test_the_dry_run_names_every_bad_row_and_stores_nothing(personas, sender):
    archive = _zip(**{"清掃.pdf": make_pdf(), "道路.pdf": make_pdf(), "壊れ.pdf": b"%PDF-1.7 x"})
    rows = [
        _row(title="庁舎清掃", amount="1,980,000", contract_date="2024/4/1", files="清掃.pdf"),
        _row(title="道路補修", contract_date="2024-13-01", department="水道課", files="道路.pdf"),
        _row(title="", amount="百万", files="無い.pdf"),
        _row(title="壊れた契約", auto_renew="たぶん", files="壊れ.pdf"),
    ]
    page = _post(sender, rows, archive, apply=False, encoding="shift_jis")  # as Excel saves it
    assert page.status_code == 400
    text = page.content.decode()
    assert 'data-ok="false"' in text and "何も登録していません" in text
    bad = page.context["plan"].bad_rows
    assert [row.line for row in bad] == [3, 4, 5]
    found = {(row.line, e.column) for row in bad for e in row.errors}
    assert found >= {
        (3, "契約日"),
        (3, "所属"),
        (4, "案件名"),
        (4, "取引金額（円）"),
        (4, "ファイル"),
        (5, "自動更新"),
        (5, "ファイル"),
    }
    messages = " ".join(e.message for row in bad for e in row.errors)
    assert "「2024-13-01」は日付" in messages and "所属「水道課」が登録されていません" in messages
    assert "「無い.pdf」がZIPの中にありません" in messages
    assert "壊れ.pdf: PDFの構造が壊れている" in messages
    assert not Contract.objects.filter(imported_at__isnull=False).exists()

    # Pressing 「取り込む」 with the same files checks the same way and imports nothing.
    assert _post(sender, rows, archive, apply=True).status_code == 400
    assert not Contract.objects.filter(imported_at__isnull=False).exists()


def test_a_clean_plan_is_imported_and_listed_as_imported(personas, sender):
    archive = _zip(
        **{"契約書/清掃.pdf": make_pdf(), "道路_契約.pdf": make_pdf(), "道路_仕様.pdf": make_pdf()}
    )
    rows = [
        _row(title="庁舎清掃", amount="1980000", auto_renew="はい", files="清掃.pdf"),
        _row(title="道路補修", department="契約課", files="道路_契約.pdf|道路_仕様.pdf"),
    ]
    dry = _post(sender, rows, archive, apply=False)
    assert dry.status_code == 200 and 'data-testid="plan-ok"' in dry.content.decode()
    assert not Contract.objects.filter(imported_at__isnull=False).exists()
    done = _post(sender, rows, archive, apply=True)
    assert done.status_code == 302
    imported = Contract.objects.filter(imported_at__isnull=False).order_by("title")
    assert [(c.title, c.documents.count()) for c in imported] == [("庁舎清掃", 1), ("道路補修", 2)]
    assert imported.get(title="庁舎清掃").amount == 1_980_000
    for contract in imported:
        for document in contract.documents.all():
            assert document.current_version().kind == VersionKind.IMPORT_STAMPED
    listing = sender.get("/").content.decode()
    assert listing.count('data-testid="imported"') == 2


def test_the_template_is_excel_csv_with_every_column(sender):
    response = sender.get("/contracts/import/template.csv")
    assert response.status_code == 200 and response.content.startswith(excel_csv.BOM)
    header = next(excel_csv.records(excel_csv.decode(response.content))).cells
    assert header == HEADER


def test_a_viewer_cannot_import_and_an_outsider_sees_nothing(personas):
    viewer = Client()
    viewer.force_login(personas.viewer)
    assert viewer.get("/contracts/import/").status_code == 403
    assert viewer.get("/contracts/import/bulk/").status_code == 403


def test_one_contract_from_the_form(personas, sender):
    assert sender.get("/contracts/import/").status_code == 200
    response = sender.post(
        "/contracts/import/",
        {
            "title": "紙で締結した契約",
            "counterparty_company": "株式会社紙",
            "notice_deadline": "2025-01-31",
            "files": SimpleUploadedFile("紙の契約.pdf", make_pdf()),
        },
    )
    assert response.status_code == 302
    contract = Contract.objects.get(title="紙で締結した契約")
    assert contract.is_imported and str(contract.notice_deadline) == "2025-01-31"
    refused = sender.post(
        "/contracts/import/",
        {"title": "壊れた", "files": SimpleUploadedFile("x.pdf", b"not a pdf")},
    )
    assert (
        refused.status_code == 400
        and "x.pdf: PDFファイルではありません。" in refused.content.decode()
    )


@pytest.mark.slow(seconds=25)
def test_acceptance_3_a_50_mb_import_is_timestamped_and_verified_from_outside(
    personas, sender, settings, tmp_path
):
    """Issue 15, acceptance 3: an imported 50 MB PDF carries a document timestamp that
    `keiyaku verify` and `openssl ts -verify` accept, and the original bytes are a prefix of
    the stored file. Imports have the uploads' limit, which an operator sets to 50 MB."""
    settings.KEIYAKU_MAX_FILE_BYTES = 50 * 1024 * 1024
    settings.KEIYAKU_MAX_REQUEST_BYTES = 160 * 1024 * 1024
    original = make_scanned_pdf(target_bytes=50 * 1000 * 1000)
    path = tmp_path / "scan.pdf"
    path.write_bytes(original)
    with path.open("rb") as fh:
        response = sender.post(
            "/contracts/import/",
            {"title": "紙の工事請負契約書", "files": SimpleUploadedFile("scan.pdf", fh.read())},
        )
    assert response.status_code == 302, [str(m) for m in response.context["messages"]] + [
        str(response.context["form"].errors)
    ]
    document = Contract.objects.get(title="紙の工事請負契約書").documents.get()
    assert document.original.sha256 == hashlib.sha256(original).hexdigest()
    version = document.current_version()
    assert version.kind == VersionKind.IMPORT_STAMPED
    stored = blob_get(version.blob)
    assert stored[: len(original)] == original and len(stored) > len(original)
    out = tmp_path / "stamped.pdf"
    out.write_bytes(stored)
    verified = keiyaku_verify(out)
    # The timestamp is intact, valid and trusted, and the installation knows the file as an
    # import of its own: exit 0 (a timestamp alone, unknown here, stays timestamp_only, exit 1).
    assert verified.returncode == 0, verified
    assert "RESULT: imported: concluded elsewhere" in verified.stdout, verified.stdout
    assert "intact/valid/trusted: True/True/True" in verified.stdout, verified.stdout
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(stored + b"\n%")  # a byte more: not a stored version any more
    assert keiyaku_verify(changed).returncode == 1
    authority = get_authority()
    assert openssl_verify_timestamps(stored, authority.root_pem(), authority.tsa_cert.dump()) == 1


def test_custom_fields_are_columns_of_the_bulk_import_and_fields_of_the_form(personas, sender):
    """Issue 15: custom fields on imports. The template has their columns, a bad value is
    named with its column, a good one is stored typed; the single form asks for them too."""
    from decimal import Decimal

    from keiyaku.contracts.models import CustomValue
    from keiyaku.contracts.services.custom_fields import custom_field_save

    days = custom_field_save(
        actor=personas.admin,
        field_id=None,
        label="工期（日）",
        kind="number",
        choices=[],
        required=True,
    )
    template = sender.get("/contracts/import/template.csv").content.decode("utf-8-sig")
    assert template.splitlines()[0].endswith(",工期（日）")
    archive = _zip(**{"清掃.pdf": make_pdf()})

    def post(value: str, *, apply: bool):
        csv = excel_csv.encode(
            [[*HEADER, "工期（日）"], [*_row(title="庁舎清掃", files="清掃.pdf"), value]]
        )
        return sender.post(
            "/contracts/import/bulk/",
            {
                "csv_file": SimpleUploadedFile("import.csv", csv),
                "zip_file": SimpleUploadedFile("pdfs.zip", archive),
                "apply" if apply else "dry_run": "1",
            },
        )

    bad = post("三十日", apply=False).content.decode()
    assert "工期（日）" in bad and "数値で入力してください" in bad
    missing = post("", apply=False).content.decode()
    assert "「工期（日）」を入力してください" in missing
    assert post("３６５", apply=True).status_code == 302
    contract = Contract.objects.get(imported_at__isnull=False)
    assert CustomValue.objects.get(contract=contract, field=days).number == Decimal(365)
    assert "工期（日）" in sender.get("/contracts/import/").content.decode()
