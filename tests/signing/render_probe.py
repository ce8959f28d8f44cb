"""Render pages with non-embedded fonts in a fresh process and print what came out, as JSON.

Run by tests/signing/test_render_fonts.py, inside a mount namespace where the host's font
folders are empty (or under strace), as ``python -m tests.signing.render_probe keiyaku|pdfium``:

- ``keiyaku``: through `keiyaku.signing.render.render_page_png` (the shipped fonts only);
- ``pdfium``: plain pypdfium2 with PDFium's default system fonts, keiyaku's renderer never
  imported: what the viewer drew before the shipped fonts.

Output: {"host_font_files": [...], "pages": {name: {"sha256", "ink", "heading_ink"}}}, where ink
is the number of dark pixels in the text area of a 595 px wide image (heading_ink: in its first
line only, which is all kanji).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys

import pikepdf
from PIL import Image

from tests.pdf_corpus import fonts

HOST_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/usr/share/X11/fonts",
    os.path.expanduser("~/.fonts"),
    os.path.expanduser("~/.local/share/fonts"),
)
"""Where PDFium's Linux font lookup and fontconfig look (PDFium: fx_linux_impl.cpp)."""

WIDTH_PX = 595


def latin_truetype_page(base_font: str) -> bytes:
    """A page in a simple TrueType font named ``base_font``, not embedded (WinAnsiEncoding)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.TrueType,
            BaseFont=pikepdf.Name("/" + base_font),
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    page = pdf.add_blank_page(page_size=fonts.A4)
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(b"BT /F1 14 Tf 60 760 Td (Construction contract) Tj ET")
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def pages() -> dict[str, bytes]:
    return {
        "mincho": fonts.font_not_embedded_mincho(),
        "gothic": fonts.font_not_embedded_gothic(),
        "liberation_serif": latin_truetype_page("LiberationSerif"),
        "dejavu_sans": latin_truetype_page("DejaVuSans"),
    }


def text_ink(png: bytes, *, lines: int = len(fonts.LINES)) -> int:
    """Dark pixels where the first ``lines`` text lines of the corpus pages are."""
    image = Image.open(io.BytesIO(png)).convert("L")
    scale = image.width / fonts.A4[0]
    top = fonts.A4[1] - fonts.TEXT_TOP - fonts.FONT_SIZE * 1.5
    bottom = fonts.A4[1] - fonts.TEXT_TOP + fonts.LINE_STEP * (lines - 0.5)
    area = image.crop((0, round(top * scale), image.width, round(bottom * scale)))
    return sum(area.histogram()[:128])


def _render_keiyaku(pdf: bytes) -> bytes:
    from keiyaku.signing.render import render_page_png

    return render_page_png(pdf, 0, width_px=WIDTH_PX)


def _render_pdfium(pdf: bytes) -> bytes:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        image = page.render(scale=WIDTH_PX / page.get_width()).to_pil()
        page.close()
    finally:
        doc.close()
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def host_font_files() -> list[str]:
    found = []
    for folder in HOST_FONT_DIRS:
        for root, _dirs, files in os.walk(folder):
            found += [os.path.join(root, name) for name in files]
    return found


def main(mode: str, *, list_host_fonts: bool = True) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    render = {"keiyaku": _render_keiyaku, "pdfium": _render_pdfium}[mode]
    result = {}
    for name, pdf in pages().items():
        png = render(pdf)
        result[name] = {
            "sha256": hashlib.sha256(png).hexdigest(),
            "ink": text_ink(png),
            "heading_ink": text_ink(png, lines=1),  # 工事請負契約書: kanji only
        }
    listed = host_font_files() if list_host_fonts else []
    json.dump({"host_font_files": listed, "pages": result}, sys.stdout)


if __name__ == "__main__":
    # --traced: run under strace, where walking the font folders would show up as an access.
    main(sys.argv[1], list_host_fonts="--traced" not in sys.argv[2:])
