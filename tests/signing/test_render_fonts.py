"""Page images draw non-embedded fonts with the fonts keiyaku ships, never the host's; a page whose
text would still not be drawn is refused at ingest; page images stay within a pixel budget.

Issue 10, finding 3 (what the party sees must be what is signed), acceptance 2 (the renderer test
hides the host's fonts) and finding 4 (pixels per rendered image).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from keiyaku.fonts import FONT_NAME, FONT_PATH, MINCHO_NAME, MINCHO_PATH
from keiyaku.signing import render
from keiyaku.signing.ingest import RefusedUpload, ingest_pdf
from tests.pdf_corpus import fonts
from tests.pdfs import make_pdf
from tests.signing import render_probe

REPO = Path(__file__).resolve().parents[2]
LIMIT = 50 * 1024 * 1024


def _png(pdf: bytes, *, width_px: int = render_probe.WIDTH_PX) -> Image.Image:
    return Image.open(io.BytesIO(render.render_page_png(pdf, 0, width_px=width_px))).convert("L")


def _ink(pdf: bytes, *, lines: int = len(fonts.LINES)) -> int:
    png = render.render_page_png(pdf, 0, width_px=render_probe.WIDTH_PX)
    return render_probe.text_ink(png, lines=lines)


# Non-embedded Japanese fonts are drawn with the shipped ones -------------------------------------


@pytest.mark.parametrize(
    "make",
    [fonts.font_not_embedded_mincho, fonts.font_not_embedded_gothic],
    ids=["mincho", "gothic"],
)
def test_non_embedded_japanese_font_draws_its_text(make):
    blank = fonts.page_with_text(lines=())  # same font resources, no text
    assert _ink(blank) == 0
    # 工事請負契約書 at 14 pt: hundreds of dark pixels when drawn, none when the font is missing.
    assert _ink(make(), lines=1) > 150
    assert _ink(make()) > 1500


def _embedded_heading(font_name: str, path: Path) -> bytes:
    """The heading drawn by reportlab with the shipped font embedded, where page_with_text puts it."""
    if font_name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(font_name, str(path)))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=fonts.A4, invariant=True)
    c.setFont(font_name, fonts.FONT_SIZE)
    c.drawString(fonts.TEXT_LEFT, fonts.TEXT_TOP, fonts.LINES[0])
    c.showPage()
    c.save()
    return buf.getvalue()


def _difference(a: Image.Image, b: Image.Image) -> int:
    """Pixels that differ clearly between two images of the same size."""
    return sum(ImageChops.difference(a, b).histogram()[48:])


def test_mincho_and_gothic_names_draw_the_shipped_mincho_and_gothic():
    heading = (fonts.LINES[0],)  # all full-width: same advances as the real font
    mincho = _png(fonts.page_with_text(lines=heading, base_font="MS-Mincho", serif=True))
    gothic = _png(fonts.page_with_text(lines=heading, base_font="MS-Gothic"))
    embedded_mincho = _png(_embedded_heading(MINCHO_NAME, MINCHO_PATH))
    embedded_gothic = _png(_embedded_heading(FONT_NAME, FONT_PATH))
    assert _difference(mincho, gothic) > 200  # different glyph shapes
    assert _difference(mincho, embedded_mincho) < 20
    assert _difference(gothic, embedded_gothic) < 20


@pytest.mark.parametrize(
    ("name", "charset", "serif", "expected"),
    [
        (b"MS-Mincho", 128, False, MINCHO_NAME),
        (b"MS-PMincho", 128, True, MINCHO_NAME),
        (b"HeiseiMin-W3", 128, False, MINCHO_NAME),
        (b"KozMinPr6N-Regular", 128, False, MINCHO_NAME),
        ("ＭＳ 明朝".encode("shift_jis"), 1, False, MINCHO_NAME),
        (b"MS-Gothic", 128, True, FONT_NAME),  # the name wins over a stray serif flag
        (b"HeiseiKakuGo-W5", 128, False, FONT_NAME),
        ("ＭＳ Ｐゴシック".encode("shift_jis"), 1, False, FONT_NAME),
        (b"Meiryo", 0, False, FONT_NAME),
        (b"SomeJapaneseFont", 128, True, MINCHO_NAME),  # neutral name: the serif flag decides
        (b"SomeJapaneseFont", 128, False, FONT_NAME),
        (b"Arial", 0, False, None),  # Latin fonts: PDFium's built-in ones
        (b"Times-Roman", 0, True, None),
        (b"DejaVuSans", 0, False, None),
    ],
)
def test_shipped_face_for_a_font_name(name, charset, serif, expected):
    assert render.shipped_face_for(name, charset=charset, serif=serif) == expected


# Acceptance 2: the host's fonts hidden ------------------------------------------------------------


def _namespace_works() -> bool:
    probe = subprocess.run(
        # Mounting over /tmp in the private namespace changes nothing outside it.
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "mount",
            "-t",
            "tmpfs",
            "tmpfs",
            "/tmp",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _probe(mode: str, *, hide_host_fonts: bool) -> dict:
    """Run render_probe in a fresh process, with the host's font folders emptied or not.

    Hiding: a private user and mount namespace (no privileges needed where unprivileged user
    namespaces are allowed, as on Debian) mounts an empty tmpfs over each font folder. Where no
    namespace can be made (a container without CAP_SYS_ADMIN), the probe runs under strace
    instead and the result records every font file it opened, which the caller checks.
    """
    command = [sys.executable, "-m", "tests.signing.render_probe", mode]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    trace = None
    if hide_host_fonts:
        if _namespace_works():
            script = (
                'set -e; for d in "$@"; do [ -d "$d" ] && mount -t tmpfs tmpfs "$d"; done; '
                'exec "$KEIYAKU_PROBE_PYTHON" -m tests.signing.render_probe "$KEIYAKU_PROBE_MODE"'
            )
            env |= {"KEIYAKU_PROBE_PYTHON": sys.executable, "KEIYAKU_PROBE_MODE": mode}
            command = [
                "unshare",
                "--user",
                "--map-root-user",
                "--mount",
                "sh",
                "-c",
                script,
                "sh",
                *render_probe.HOST_FONT_DIRS,
            ]
        elif shutil.which("strace"):
            handle, name = tempfile.mkstemp(suffix=".strace")
            os.close(handle)
            trace = Path(name)
            traced = [*command, "--traced"]
            command = ["strace", "-f", "-qq", "-e", "trace=%file", "-o", str(trace), *traced]
        else:
            pytest.fail("cannot hide the host's fonts: no user namespace and no strace")
    done = subprocess.run(command, capture_output=True, check=False, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads(done.stdout)
    if trace is not None:
        lines = trace.read_text(errors="replace").splitlines()
        trace.unlink()
        result["host_font_files"] = [
            line for line in lines if any(d in line for d in render_probe.HOST_FONT_DIRS)
        ]
        result["traced"] = True
    return result


@pytest.fixture(scope="module")
def hidden() -> dict:
    return _probe("keiyaku", hide_host_fonts=True)


def test_host_fonts_are_hidden_in_the_probe(hidden):
    # With a namespace the font folders are empty; under strace nothing in them was opened.
    assert hidden["host_font_files"] == []


@pytest.mark.parametrize("name", ["mincho", "gothic"])
def test_japanese_text_is_drawn_with_the_host_fonts_hidden(hidden, name):
    page = hidden["pages"][name]
    assert page["heading_ink"] > 150
    assert page["ink"] > 1500


def test_host_fonts_do_not_change_a_page_image(hidden):
    visible = _probe("keiyaku", hide_host_fonts=False)
    for name, page in visible["pages"].items():
        assert page["sha256"] == hidden["pages"][name]["sha256"], name


def test_without_the_shipped_fonts_pdfium_draws_no_japanese_text():
    """What the viewer drew before: PDFium's default font lookup, host fonts hidden.

    Also shows that the hiding works: a Latin font the host has (DejaVu, Liberation) changes
    PDFium's own image once hidden.
    """
    before = _probe("pdfium", hide_host_fonts=True)
    assert before["pages"]["mincho"]["heading_ink"] == 0
    assert before["pages"]["gothic"]["heading_ink"] == 0
    if before.get("traced"):
        # Nothing was hidden, so no image to compare with; the trace shows that it would have
        # seen PDFium read the host's fonts (keiyaku's renderer reads none, see above).
        assert before["host_font_files"]
        return
    host = _probe("pdfium", hide_host_fonts=False)
    if any("DejaVuSans.ttf" in f or "LiberationSerif" in f for f in host["host_font_files"]):
        assert any(
            host["pages"][name]["sha256"] != before["pages"][name]["sha256"]
            for name in ("liberation_serif", "dejavu_sans")
        )


# A page whose text would not be drawn is refused at ingest ---------------------------------------


@pytest.mark.parametrize(
    "make",
    [fonts.font_not_embedded_hangul, fonts.font_type3_without_glyphs],
    ids=["hangul", "type3"],
)
def test_text_that_draws_nothing_is_refused_at_ingest(make):
    assert _ink(make(), lines=1) == 0  # the page image is blank where the heading is
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(make(), max_bytes=LIMIT)
    assert refused.value.code == "text_not_drawable"
    assert "1ページ" in str(refused.value.message)


def test_a_character_no_shipped_font_has_is_refused_and_named():
    mixed = fonts.page_with_text(
        lines=("契約 계약",), base_font="Batang", ordering="Korea1", cmap="UniKS-UCS2-H"
    )
    with pytest.raises(render.TextNotDrawnError) as error:
        render.require_text_drawn(mixed)
    assert error.value.text == "계약"


def test_the_refusal_names_the_page():
    with pikepdf.open(io.BytesIO(make_pdf(pages=2))) as pdf:
        with pikepdf.open(io.BytesIO(fonts.font_not_embedded_hangul())) as hangul:
            pdf.pages.append(hangul.pages[0])
        out = io.BytesIO()
        pdf.save(out)
    with pytest.raises(RefusedUpload) as refused:
        ingest_pdf(out.getvalue(), max_bytes=LIMIT)
    assert refused.value.code == "text_not_drawable"
    assert "3ページ" in str(refused.value.message)


@pytest.mark.parametrize(
    "make",
    [
        fonts.font_not_embedded_mincho,
        fonts.font_not_embedded_gothic,
        fonts.font_not_embedded_invisible_ocr,
        make_pdf,
    ],
    ids=["mincho", "gothic", "invisible_ocr", "embedded"],
)
def test_text_that_is_drawn_or_invisible_is_accepted(make):
    ingested = ingest_pdf(make(), max_bytes=LIMIT)
    assert ingested.page_count >= 1


def test_white_text_is_not_judged_by_its_colour():
    pdf = fonts.page_with_text(base_font="MS-Gothic")
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        page.Contents = doc.make_stream(b"1 1 1 rg " + page.Contents.read_bytes())
        out = io.BytesIO()
        doc.save(out)
    white = out.getvalue()
    assert _ink(white) == 0
    render.require_text_drawn(white)


# Pixels per page image ------------------------------------------------------------------------


def _page(width_pt: float, height_pt: float) -> bytes:
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(width_pt, height_pt))
    page.Contents = pdf.make_stream(b"0 0 0 rg 10 10 50 50 re f")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("width_pt", "height_pt", "width_px"),
    [(100, 14400, 1100), (200, 14400, 1100), (14400, 14400, 5000), (595.28, 841.89, 5000)],
)
def test_a_huge_image_is_drawn_smaller_within_the_pixel_budget(
    width_pt, height_pt, width_px, settings
):
    png = render.render_page_png(_page(width_pt, height_pt), 0, width_px=width_px)
    image = Image.open(io.BytesIO(png))
    assert image.width * image.height <= settings.KEIYAKU_MAX_RENDER_PIXELS
    assert image.height / image.width == pytest.approx(height_pt / width_pt, rel=0.02)
    assert image.width * image.height > settings.KEIYAKU_MAX_RENDER_PIXELS * 0.9  # not tiny


def test_the_pixel_budget_is_a_setting(settings):
    settings.KEIYAKU_MAX_RENDER_PIXELS = 200_000
    image = Image.open(io.BytesIO(render.render_page_png(make_pdf(), 0, width_px=1100)))
    assert image.width * image.height <= 200_000
    assert image.width < 1100


@pytest.mark.parametrize("width", [1100, 2400])
def test_a_sharper_image_can_be_requested(width):
    image = Image.open(io.BytesIO(render.render_page_png(make_pdf(), 0, width_px=width)))
    assert image.width == width


def test_scale_within_never_exceeds_the_budget():
    for width_pt, height_pt, budget in [
        (595.28, 841.89, 1),
        (1, 14400, 1000),
        (0.5, 14400 * 5, 12_000_000),
        (14400, 14400, 12_000_000),
        (333.3, 777.7, 123_457),
    ]:
        scale = render.scale_within(width_pt, height_pt, 10.0, budget)
        pixels = -(-width_pt * scale // 1) * -(-height_pt * scale // 1)
        assert pixels <= budget
