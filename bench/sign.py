"""Benchmark: one party's agreement signature (PAdES + RFC 3161 timestamp) on 1 MB and 20 MB.

    .venv/bin/python bench/sign.py [--runs N]

Compares keiyaku's ``engine.sign_agreement`` (key parsed once, no dry-run signature) with
stock pyHanko (``SimpleSigner.load_pkcs12`` + ``signers.sign_pdf`` per document, as a naive
integration does) and with a floor: SHA-256 over the file plus one RSA-2048 signature.
Both signers use the same TSA: keiyaku's own responder on loopback, in a separate process so
that its work does not compete for this interpreter's GIL.
Goal: keiyaku <= 0.5x stock on 20 MB and < 60 ms on 1 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pikepdf  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.timestamps import HTTPTimeStamper  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from keiyaku.pki.authority import Authority, ensure_authority  # noqa: E402
from keiyaku.signing import engine  # noqa: E402

PASSPHRASE = b"bench"
FIELD = "keiyaku-party-01"
REASON = "株式会社○○ 山田太郎 様 [taro@example.jp] が 2026-04-01 10:56:22 +09:00 JSTに承認しました"
SIZES = {"1 MB": 1_000_000, "20 MB": 20_000_000}


def _serve_tsa(directory: str, ready: multiprocessing.Queue) -> None:
    from keiyaku.pki import tsa
    from keiyaku.pki.authority import load_authority

    authority = load_authority(Path(directory), passphrase=PASSPHRASE)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = tsa.respond(
                self.rfile.read(int(self.headers["Content-Length"])), authority=authority
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.put(server.server_address[1])
    server.serve_forever()


def make_pdf(size: int) -> bytes:
    """A one-page contract padded with an incompressible, undrawn image to ``size`` bytes."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.drawString(72, 770, "Contract for the benchmark")
    page.showPage()
    page.save()
    width = 1024
    raw = os.urandom(width * max(1, size // width))
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as pdf:
        image = pikepdf.Stream(pdf, b"")
        image.write(zlib.compress(raw, 0), filter=pikepdf.Name.FlateDecode)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height = width, len(raw) // width
        image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
        pdf.pages[0].add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Pad)
        out = io.BytesIO()
        pdf.save(out, compress_streams=False)
    return engine.prepare(out.getvalue(), field_names=[FIELD])


def write_pkcs12(authority: Authority, path: Path) -> None:
    key = serialization.load_der_private_key(authority.signer_key.dump(), password=None)
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"signer",
            key,  # type: ignore[arg-type]
            x509.load_der_x509_certificate(authority.signer_cert.dump()),
            [x509.load_der_x509_certificate(authority.root_cert.dump())],
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )


def median_ms(function: Callable[[], object], runs: int) -> float:
    function()  # warm-up: imports, connections, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    # verify() below checks a B-T signature; pyHanko logs why it is not (yet) B-LTA.
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="keiyaku-bench-") as tmp:
        authority = ensure_authority(
            Path(tmp) / "pki", passphrase=PASSPHRASE, base_url="http://127.0.0.1:9"
        )
        ready: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        server = multiprocessing.get_context("spawn").Process(
            target=_serve_tsa, args=(str(Path(tmp) / "pki"), ready), daemon=True
        )
        server.start()
        url = f"http://127.0.0.1:{ready.get(timeout=60)}/tsa"
        p12 = Path(tmp) / "signer.p12"
        write_pkcs12(authority, p12)

        keiyaku_signer = engine.ServiceSigner.from_authority(authority)
        keiyaku_timestamper = engine.make_timestamper([url])
        stock_timestamper = HTTPTimeStamper(url)
        floor_key = authority.private_key("signer")

        def keiyaku(pdf: bytes) -> bytes:
            return engine.sign_agreement(
                pdf,
                field_name=FIELD,
                reason=REASON,
                signer=keiyaku_signer,
                timestamper=keiyaku_timestamper,
            )

        def stock(pdf: bytes) -> bytes:
            signer = signers.SimpleSigner.load_pkcs12(p12, passphrase=PASSPHRASE)
            meta = signers.PdfSignatureMetadata(
                field_name=FIELD,
                md_algorithm="sha256",
                reason=REASON,
                location="日本",
                subfilter=fields.SigSeedSubFilter.PADES,
            )
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
            return signers.sign_pdf(
                writer,
                meta,
                signer=signer,
                timestamper=stock_timestamper,
                existing_fields_only=True,
            ).getvalue()

        def floor(pdf: bytes) -> bytes:
            digest = hashlib.sha256(pdf).digest()
            return floor_key.sign(digest, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg]

        rows = []
        for label, size in SIZES.items():
            pdf = make_pdf(size)
            report = engine.verify(keiyaku(pdf), trust_roots=[authority.root_cert])
            assert report.ok, report.error  # the thing measured must be a valid signature
            rows.append(
                (
                    label,
                    median_ms(lambda pdf=pdf: keiyaku(pdf), args.runs),
                    median_ms(lambda pdf=pdf: stock(pdf), args.runs),
                    median_ms(lambda pdf=pdf: floor(pdf), args.runs),
                )
            )
        server.terminate()
        server.join()

    print(f"sign_agreement with RFC 3161 timestamp, median of {args.runs} runs (ms)")
    print(f"{'size':>6} {'keiyaku':>9} {'stock':>9} {'floor':>8} {'k/stock':>8} {'k/floor':>8}")
    for label, ours, theirs, base in rows:
        print(
            f"{label:>6} {ours:9.1f} {theirs:9.1f} {base:8.1f} "
            f"{ours / theirs:8.2f} {ours / base:8.2f}"
        )


if __name__ == "__main__":
    main()
