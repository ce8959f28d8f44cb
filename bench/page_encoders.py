"""Benchmark: how to encode page images (issue 12) — PNG levels, WebP and JPEG qualities.

    .venv/bin/python bench/page_encoders.py [--widths 800,1600] [--repeat 3]

Two generated pages, rendered by keiyaku's renderer (PDFium, shipped fonts) at each width:

- a text page: an A4 contract with lines of Japanese at 6, 8 and 10 pt (embedded font);
- a scanned page: an A4 page that is one 300 dpi colour JPEG of a printed contract with paper
  grain (what a multifunction printer writes), the case where PNG is slowest and largest.

For each encoder: the size (KB), the median encode time (ms) and how far the decoded image is
from the rendered bitmap, as PSNR (dB) over the whole page and over the 6 pt line alone (PNG is
lossless: infinite). With ``--crops DIR`` the 6 pt line of each is written there to look at. No figure is
asserted; the table is in docs/architecture.md (Page images).
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat  # noqa: E402

_A4 = (595.28, 841.89)
_SMALL_Y_PT = 700.0  # baseline of the 6 pt line, from the bottom of the page
_TEXT = (
    "第7条（秘密保持）受注者は、業務上知り得た秘密を第三者に漏らしてはならない。髙橋 ㈱ 1,234,567円"
)


def text_page() -> bytes:
    """An A4 page with the same Japanese line at 6, 8 and 10 pt and a 10 pt paragraph."""
    from reportlab.pdfgen import canvas

    from keiyaku.fonts import register_reportlab_font

    font = register_reportlab_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=_A4, invariant=True)
    c.setFont(font, 16)
    c.drawString(60, 780, "業務委託契約書")
    for size, y in ((6, _SMALL_Y_PT), (8, 680), (10, 655)):
        c.setFont(font, size)
        c.drawString(40, y, _TEXT)
    c.setFont(font, 10)
    for n in range(30):
        c.drawString(40, 620 - 16 * n, f"第{n + 8}条 " + _TEXT[7:])
    c.showPage()
    c.save()
    return buf.getvalue()


def scanned_page() -> bytes:
    """An A4 page that is a 2480 x 3508 px (300 dpi) colour JPEG scan with paper grain."""
    import pikepdf
    from PIL import ImageFont

    from keiyaku.fonts import FONT_PATH

    width, height = 2480, 3508
    paper = Image.new("RGB", (width, height), (243, 240, 232))
    draw = ImageDraw.Draw(paper)
    font = ImageFont.truetype(str(FONT_PATH), 42)
    small = ImageFont.truetype(str(FONT_PATH), 25)  # 6 pt at 300 dpi
    draw.text((300, 200), "業務委託契約書", fill=(20, 20, 30), font=font)
    draw.text(
        (170, round((_A4[1] - _SMALL_Y_PT) / _A4[1] * height) - 20), _TEXT, (30, 30, 40), small
    )
    for n in range(40):
        draw.text((170, 800 + 62 * n), f"第{n + 8}条 " + _TEXT[7:], fill=(25, 25, 35), font=font)
    draw.ellipse((1900, 2900, 2200, 3200), outline=(200, 30, 30), width=12)  # a seal
    grain = Image.effect_noise((width, height), 18).convert("RGB")
    scan = ImageChops.add(
        ImageChops.subtract(paper, Image.new("RGB", paper.size, (9,) * 3)), grain, 1.0, -120
    )
    scan = scan.filter(ImageFilter.GaussianBlur(0.6))
    jpeg = io.BytesIO()
    scan.save(jpeg, format="JPEG", quality=85)
    pdf = pikepdf.new()
    image = pdf.make_stream(b"")
    image.write(jpeg.getvalue(), filter=pikepdf.Name.DCTDecode)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = width, height
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    page = pdf.add_blank_page(page_size=_A4)
    page.add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Scan)
    page.Contents = pdf.make_stream(f"q {_A4[0]} 0 0 {_A4[1]} 0 0 cm /Scan Do Q".encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def encoders() -> dict[str, Callable[[Image.Image], bytes]]:
    def save(**options: object) -> Callable[[Image.Image], bytes]:
        def encode(image: Image.Image) -> bytes:
            out = io.BytesIO()
            image.save(out, **options)
            return out.getvalue()

        return encode

    table: dict[str, Callable[[Image.Image], bytes]] = {}
    for level in (6, 3, 1):
        table[f"PNG level {level}"] = save(format="PNG", compress_level=level)
    table["PNG level 1, 8-bit grey"] = lambda image: save(format="PNG", compress_level=1)(
        image.convert("L")
    )
    table["WebP lossless m0"] = save(format="WEBP", lossless=True, method=0, quality=0)
    for quality in (95, 90, 85, 80):
        table[f"WebP q{quality} m2"] = save(format="WEBP", quality=quality, method=2)
    table["WebP q90 m0"] = save(format="WEBP", quality=90, method=0)
    for quality in (95, 90, 85):
        table[f"JPEG q{quality} 4:4:4"] = save(format="JPEG", quality=quality, subsampling=0)
    table["JPEG q90 4:2:0"] = save(format="JPEG", quality=90, subsampling=2)
    return table


def psnr(reference: Image.Image, other: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB of ``other`` against ``reference`` (RGB, same size)."""
    diff = ImageChops.difference(reference.convert("RGB"), other.convert("RGB"))
    mse = statistics.fmean(rms**2 for rms in ImageStat.Stat(diff).rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def measure(args: argparse.Namespace) -> list[dict[str, object]]:
    import pypdfium2 as pdfium

    rows = []
    if args.crops:
        args.crops.mkdir(parents=True, exist_ok=True)
    for name, pdf in (("text", text_page()), ("scan", scanned_page())):
        for width in args.widths:
            doc = pdfium.PdfDocument(pdf)
            page = doc[0]
            scale = width / page.get_size()[0] * (1 - 1e-9)
            began = time.perf_counter()
            bitmap = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
            render_ms = (time.perf_counter() - began) * 1000
            doc.close()
            px = width / _A4[0]
            top = round((_A4[1] - _SMALL_Y_PT - 8) * px)
            box = (0, top, bitmap.width, top + round(10 * px))
            if args.crops:
                bitmap.crop(box).save(args.crops / f"{name}-{width}-reference.png")
            for label, encode in encoders().items():
                times = []
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    data = encode(bitmap)
                    times.append((time.perf_counter() - began) * 1000)
                decoded = Image.open(io.BytesIO(data))
                decoded.load()
                slug = label.replace(" ", "_").replace(",", "").replace(":", "")
                if args.crops:
                    decoded.convert("RGB").crop(box).save(args.crops / f"{name}-{width}-{slug}.png")
                rows.append(
                    {
                        "page": name,
                        "width": width,
                        "render_ms": render_ms,
                        "encoder": label,
                        "kb": len(data) / 1024,
                        "encode_ms": statistics.median(times),
                        "psnr": psnr(bitmap, decoded),
                        "psnr_6pt": psnr(bitmap.crop(box), decoded.convert("RGB").crop(box)),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="800,1600", help="widths in px, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="encodes timed per cell")
    parser.add_argument("--crops", type=Path, help="write the 6 pt crops to this folder")
    args = parser.parse_args()
    args.widths = [int(w) for w in args.widths.split(",")]
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiyaku.settings")
    django.setup()
    out = sys.stdout
    out.write(
        f"{'page':<5} {'px':>5} {'encoder':<24} {'KB':>7} {'enc ms':>7} {'PSNR':>6} "
        f"{'6pt PSNR':>8}   (render ms)\n"
    )
    for row in measure(args):
        out.write(
            f"{row['page']:<5} {row['width']:>5} {row['encoder']:<24} {row['kb']:7.0f} "
            f"{row['encode_ms']:7.1f} {row['psnr']:6.1f} {row['psnr_6pt']:8.1f}   "
            f"({row['render_ms']:.0f})\n"
        )


if __name__ == "__main__":
    main()
