"""Benchmark: memory of the web and worker processes with large contracts (issue 12, acceptance 5).

    .venv/bin/python bench/memory.py [--contracts 20] [--mb 50] [--json FILE]

On the production set-up (bench/production.py: PostgreSQL, Redis, the S3 server; gunicorn with
2 web workers of 4 threads as `keiyaku serve` starts it; one queue consumer, `keiyaku run_huey`
with 2 threads), each contract goes the way a large one goes in production:

1. **upload**: the sender posts a ~``--mb`` MB scanned contract (`tests.pdfs.make_scanned_pdf`:
   a typed page, then 200 dpi scans) to 「新規作成」 (web: ingest in budgeted children, two
   blobs sealed and stored);
2. **send**: a counterparty and the mayor are added (services), the sender posts 「送信」
   (web: the certificate ID printed, the fields added, the prepared PDF stored);
3. **pages**: the counterparty proves the access code, opens the signing document page and
   fetches its first page images at every width;
4. **agree 1**: the counterparty confirms and agrees (web), its signature is made (worker);
5. **agree 2**: the mayor agrees (services); signature and completion (B-LTA) in the worker;
6. **download**: the sender downloads the signed PDF (web).

Every web worker and the consumer is sampled from /proc (VmRSS, and VmHWM reset with
``clear_refs`` 5 before each step): printed per process is how far its peak rose above where it
stood before each step, as a multiple of the file size (the goal: at most 3×), and its baseline
(VmRSS once a contract is done and the processes have been idle for ``--settle`` s) after the
first contract and after the last, with their ratio (the goal: within 10 %). The budgeted
children ingest, sending and finalising run in (`keiyaku.signing.budget`) are separate
processes with their own budget (KEIYAKU_INGEST_MEMORY_MB, KEIYAKU_VALIDATION_MEMORY_MB): their
largest resident size is printed apart. No figure is asserted; the load average is printed.

Each web process also keeps the page images it served in memory, up to
KEIYAKU_PAGE_IMAGE_CACHE_MB (48 MB): a cache that fills by design, not a leak. Each contract's
page step adds about 6 MB of images to one process, so its baseline rises by that much a
contract until the cache is full, whatever else happens. So the web baselines are printed twice:
as measured, and with the cache's bytes counted apart (what the process logs as 「page images
in memory (process <pid>): …」, read from the server's log; logged each time the fill moves
by 1 MB, so within 1 MB of the truth). The second ratio is the one that shows a leak; the
first is what an operator sizes a machine by (the cache's bound plus the second).
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from production import (  # noqa: E402
    Installation,
    WebServer,
    _fast_hashes,
    _Personas,
    cookie_of,
    installation,
)

MB = 1024 * 1024
STEPS = ("upload", "send", "pages", "agree 1", "agree 2", "download")
_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SUMMARY_RE = re.compile(r'name="summary" value="([0-9a-f]{64})"')
_IMG_SRCSET_RE = re.compile(r'srcset="([^"]+)"')
_IMG_SRC_RE = re.compile(r'<img src="(/s/[^"]+)"')
_SHA_RE = re.compile(r'name="(sha256_\d+)" value="([0-9a-f]{64})"')
_CONTRACT_RE = re.compile(r"/contracts/([0-9a-f-]{36})/")
_CACHE_LINE_RE = re.compile(r"page images in memory \(process (\d+)\): \d+ images, (\d+) bytes")


def page_image_cache_bytes(log: Path) -> dict[int, int]:
    """Per web process (pid), the last fill of its page-image cache it logged (bytes)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return {int(pid): int(held) for pid, held in _CACHE_LINE_RE.findall(text)}


def _status_kb(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (a web worker starts its fork server from the
    thread that first needed it)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Watched:
    """One process the goal is about (a web worker, the consumer) and what was seen of it."""

    name: str
    pid: int
    rises: dict[str, list[int]] = field(default_factory=dict)
    """step → the peak's rise above the step's start (bytes), one per contract."""
    baselines: list[int] = field(default_factory=list)
    """VmRSS (bytes) after each contract, idle."""
    cache_bytes: list[int] = field(default_factory=list)
    """The page-image cache's fill (bytes) the process last logged, after each contract."""

    def reset(self) -> int:
        """Reset the high-water mark; the resident bytes now."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return _status_kb(self.pid).get("VmRSS", 0) * 1024

    def peak(self) -> int:
        return _status_kb(self.pid).get("VmHWM", 0) * 1024

    def rss(self) -> int:
        return _status_kb(self.pid).get("VmRSS", 0) * 1024


class ChildSampler(threading.Thread):
    """Samples every few ms the resident size of the processes below the watched ones (the
    fork servers and the budgeted children they fork), keeping the largest high-water mark."""

    def __init__(self, parents: list[int]) -> None:
        super().__init__(daemon=True)
        self.parents = parents
        self.largest = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for parent in self.parents:
                for pid in _descendants(parent):
                    hwm = _status_kb(pid).get("VmHWM", 0) * 1024
                    self.largest = max(self.largest, hwm)
            time.sleep(0.02)


class Session:
    """A browser: one cookie jar, the CSRF token sent with each POST."""

    def __init__(self, base_url: str, cookie: str | None = None) -> None:
        import requests

        self.base = base_url
        self.http = requests.Session()
        if cookie:
            name, _, value = cookie.partition("=")
            self.http.cookies.set(name, value)

    def get(self, path: str) -> Any:
        answer = self.http.get(self.base + path, allow_redirects=False, timeout=600)
        if answer.status_code >= 400:
            raise RuntimeError(f"GET {path}: {answer.status_code}\n{answer.text[:2000]}")
        return answer

    def post(self, path: str, data: dict[str, Any], files: Any = None) -> Any:
        from django.conf import settings

        token = self.http.cookies.get(settings.CSRF_COOKIE_NAME)
        answer = self.http.post(
            self.base + path,
            data=data,
            files=files,
            headers={"X-CSRFToken": token or "", "Referer": self.base + path},
            allow_redirects=False,
            timeout=900,
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"POST {path}: {answer.status_code}\n{answer.text[:2000]}")
        return answer


def _wait(predicate: Any, *, seconds: float = 900, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _last_link(email: str) -> str | None:
    from tests.flow import mail_links

    links = mail_links(email)
    return links[-1] if links else None


def _party(contract_id: str, kind: str) -> Any:
    from keiyaku.contracts.models import Party

    return Party.objects.select_related("contract").get(contract_id=contract_id, kind=kind)


def one_contract(site: Installation, staff: Session, personas: Any, pdf: Path, n: int) -> Any:
    """Steps of one contract; yields each step's name before it starts (the caller resets
    the high-water marks there)."""
    import uuid

    from django.db import close_old_connections

    from keiyaku.audit.services import RequestMeta
    from keiyaku.contracts import services
    from keiyaku.contracts.models import Contract, ContractStatus, PartyStatus
    from keiyaku.contracts.selectors import documents_shown_to

    close_old_connections()
    yield "upload"
    form = staff.get("/contracts/new/").text
    with pdf.open("rb") as fh:
        answer = staff.post(
            "/contracts/new/",
            {
                "csrfmiddlewaretoken": _CSRF_RE.search(form).group(1),  # type: ignore[union-attr]
                "title": f"令和8年度 庁舎改修工事 請負契約 第{n}号",
                "allow_forwarding": "on",
            },
            files={"files": ("契約書（写）.pdf", fh, "application/pdf")},
        )
    if answer.status_code != 302:
        raise RuntimeError(f"upload refused:\n{answer.text[:3000]}")
    contract_id = _CONTRACT_RE.search(answer.headers["Location"]).group(1)  # type: ignore[union-attr]
    contract = Contract.objects.get(pk=contract_id)
    email = f"party{n}-{uuid.uuid4().hex[:6]}@example.jp"
    # The code is checked by the web server: hashed as it hashes (not `_fast_hashes`).
    services.party_add(
        contract=contract,
        actor=personas.sender,
        kind="external",
        company=f"株式会社ベンチ建設{n}",
        name="山田 太郎",
        email=email,
        access_code="1234",
    )
    services.party_add(contract=contract, actor=personas.sender, kind="staff", staff=personas.mayor)

    yield "send"
    # The confirmation first (issue 14): its form carries the summary's digest.
    confirm = staff.get(f"/contracts/{contract_id}/send/confirm/").text
    staff.post(
        f"/contracts/{contract_id}/send/",
        {
            "csrfmiddlewaretoken": _CSRF_RE.search(confirm).group(1),  # type: ignore[union-attr]
            "summary": _SUMMARY_RE.search(confirm).group(1),  # type: ignore[union-attr]
        },
    )
    if Contract.objects.get(pk=contract_id).status != ContractStatus.IN_PROGRESS:
        raise RuntimeError("the contract was not sent")

    yield "pages"
    _wait(lambda: _last_link(email) is not None, seconds=120, what="the signing e-mail")
    link = _last_link(email)
    assert link is not None
    party = Session(site.base_url)
    entry = party.get(link).text
    csrf = _CSRF_RE.search(entry).group(1)  # type: ignore[union-attr]
    party.post(link, {"csrfmiddlewaretoken": csrf, "code": "1234"})
    page = party.get(link + "documents/").text
    images = [html.unescape(src) for src in _IMG_SRC_RE.findall(page)][:3]
    for srcset in _IMG_SRCSET_RE.findall(page)[:3]:
        images += [html.unescape(c.split()[0]) for c in srcset.split(",")]
    if not images:
        raise RuntimeError("the signing document page links no page image")
    for src in images:
        party.get(src)

    yield "agree 1"
    confirm = party.post(link + "confirm/", {"csrfmiddlewaretoken": csrf}).text
    fields = dict(_SHA_RE.findall(confirm))
    party.post(link + "complete/", {"csrfmiddlewaretoken": csrf, **fields})
    _wait(
        lambda: _party(contract_id, "staff").status == PartyStatus.NOTIFIED,
        what="the counterparty's signature",
    )

    yield "agree 2"
    mayor = _party(contract_id, "staff")
    shown = {doc.pk: version.blob.sha256 for doc, version in documents_shown_to(mayor)}
    services.party_agree(
        party=mayor, shown=shown, meta=RequestMeta(ip="127.0.0.1", user_agent="keiyaku-bench")
    )
    _wait(
        lambda: Contract.objects.get(pk=contract_id).status == ContractStatus.COMPLETED,
        what="completion",
    )

    yield "download"
    document = Contract.objects.get(pk=contract_id).documents.get()
    signed = staff.get(f"/contracts/{contract_id}/documents/{document.pk}/signed.pdf")
    if not signed.content.startswith(b"%PDF"):
        raise RuntimeError("the download is not a PDF")


def run(site: Installation, web: WebServer, consumer: Any, args: argparse.Namespace) -> dict:
    from django.test import Client

    from tests.pdfs import make_scanned_pdf

    pdf = site.folder / "scanned.pdf"
    pdf.write_bytes(make_scanned_pdf(target_bytes=args.mb * MB))
    size = pdf.stat().st_size
    with _fast_hashes():
        personas = _Personas()
    client = Client()
    client.force_login(personas.sender)
    staff = Session(site.base_url, cookie_of(client))

    watched = [Watched(f"web {i + 1}", pid) for i, pid in enumerate(web.workers())]
    watched.append(Watched("worker", consumer.pid))
    sampler = ChildSampler([w.pid for w in watched])
    sampler.start()
    seconds = []
    try:
        for n in range(1, args.contracts + 1):
            began = time.monotonic()
            steps = one_contract(site, staff, personas, pdf, n)
            starts: dict[str, int] = {}
            current = None
            for step in itertools.chain(steps, [None]):
                if current is not None:
                    for w in watched:
                        w.rises.setdefault(current, []).append(max(0, w.peak() - starts[w.name]))
                if step is None:
                    break
                current = step
                starts = {w.name: w.reset() for w in watched}
            seconds.append(time.monotonic() - began)
            time.sleep(args.settle)
            cached = page_image_cache_bytes(web.process.log)
            for w in watched:
                w.baselines.append(w.rss())
                w.cache_bytes.append(cached.get(w.pid, 0))
            print(
                f"contract {n:2d}: {seconds[-1]:5.1f} s; baseline "
                + ", ".join(
                    f"{w.name} {w.baselines[-1] / MB:.0f} MB"
                    + (
                        f" ({w.cache_bytes[-1] / MB:.0f} MB page images)"
                        if w.cache_bytes[-1]
                        else ""
                    )
                    for w in watched
                ),
                flush=True,
            )
    finally:
        sampler.stop.set()
        sampler.join()
    return {
        "file_bytes": size,
        "contracts": args.contracts,
        "seconds_per_contract": sorted(seconds)[len(seconds) // 2],
        "processes": {
            w.name: {
                "rise_by_step": {step: max(w.rises.get(step, [0])) for step in STEPS},
                "rises_by_step": {step: w.rises.get(step, []) for step in STEPS},
                "baselines": w.baselines,
                "page_image_cache_bytes": w.cache_bytes,
            }
            for w in watched
        },
        "children_largest_bytes": sampler.largest,
        "load_average": os.getloadavg(),
    }


def report(figures: dict) -> str:
    size = figures["file_bytes"]
    lines = [
        f"{figures['contracts']} contracts of a {size / MB:.1f} MB scanned PDF, "
        f"median {figures['seconds_per_contract']:.0f} s each; "
        f"load average {' '.join(f'{x:.2f}' for x in figures['load_average'])}",
        "peak rise above the step's start, as a multiple of the file size (goal: <= 3x):",
        f"{'process':>8} " + " ".join(f"{s:>9}" for s in STEPS) + f" {'max':>6}",
    ]
    for name, p in figures["processes"].items():
        rises = p["rise_by_step"]
        lines.append(
            f"{name:>8} "
            + " ".join(f"{rises[s] / size:8.2f}x" for s in STEPS)
            + f" {max(rises.values()) / size:5.2f}x"
        )
    lines.append(
        "baseline RSS after contract 1 and after the last (goal: within 10 %); then without the"
        " page-image cache's bytes (its bound: KEIYAKU_PAGE_IMAGE_CACHE_MB):"
    )
    for name, p in figures["processes"].items():
        first, last = p["baselines"][0], p["baselines"][-1]
        line = f"{name:>8}  {first / MB:7.1f} MB -> {last / MB:7.1f} MB  ratio {last / first:.3f}"
        cached = p.get("page_image_cache_bytes") or [0]
        if any(cached):
            rest_first, rest_last = first - cached[0], last - cached[-1]
            line += (
                f";  cache {cached[0] / MB:4.1f} -> {cached[-1] / MB:4.1f} MB;  without it"
                f" {rest_first / MB:7.1f} MB -> {rest_last / MB:7.1f} MB"
                f"  ratio {rest_last / rest_first:.3f}"
            )
        lines.append(line)
    lines.append(
        "budgeted children (ingest, sending, finalising; their own budget): largest resident "
        f"{figures['children_largest_bytes'] / MB:.0f} MB "
        f"({figures['children_largest_bytes'] / size:.2f}x the file)"
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=20)
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before a baseline")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    limit_mb = str(int(args.mb) + 10)
    with (
        installation(
            extra_env={"KEIYAKU_MAX_FILE_MB": limit_mb, "KEIYAKU_MAX_CONTRACT_MB": limit_mb}
        ) as site,
        # INFO: the web processes' page-image cache lines (the installation logs WARNING).
        site.web(workers=2, threads=4, env={"KEIYAKU_LOG_LEVEL": "INFO"}) as web,
        site.consumers(1, threads=2) as consumers,
    ):
        figures = run(site, web, consumers[0], args)
    sys.stdout.write(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
