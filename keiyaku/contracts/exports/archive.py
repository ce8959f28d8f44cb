"""What an export is made of, and the two ways it is written: a ZIP streamed to whoever reads
it, or a folder on disk (issue 15, R34).

An export is a sequence of `Entry` (a name inside the export and the file's bytes as an
iterator of pieces), produced lazily: nothing asks for the next contract before the previous
one's files are written. Each writer hashes every file as it passes and notes its name,
size and SHA-256 in a manifest kept in a temporary file (not in memory); the manifest is
written last, as ``目録.csv`` (Excel-friendly) and ``SHA256SUMS`` (the format ``sha256sum
-c`` checks).

Names are readable Japanese, and safe wherever the export is unpacked: `safe_name` makes one
component of a path (no separator, no ``..``, no control or bidirectional character, no
character Windows refuses, not too long), and the callers make every path unique by
construction (a contract's folder carries its certificate ID, a file its document position),
so no set of names grows with the export.

Memory: a ZIP's central directory lists every file at the end, so the ZIP writer keeps one
small record per file (``zipstream``'s, about a few hundred bytes); the folder writer keeps
nothing per file. `keiyaku export DEST` writes a folder for the largest organisations.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from keiyaku import excel_csv
from keiyaku.contracts.filenames import clean_filename

MANIFEST_CSV = "目録.csv"
MANIFEST_SUMS = "SHA256SUMS"

# What Windows refuses in a file name, as the full-width forms a Japanese reader expects.
_WINDOWS = str.maketrans(
    {
        "<": "＜",
        ">": "＞",
        ":": "：",
        '"': "”",
        "/": "／",
        "\\": "＼",
        "|": "｜",
        "?": "？",
        "*": "＊",
    }
)
_COMPONENT_CHARS = 80


def safe_name(text: str, *, limit: int = _COMPONENT_CHARS, fallback: str = "無題") -> str:
    """``text`` as one component of a path inside an export: NFC, no directory part or
    separator, no control or bidirectional character (`clean_filename`), what Windows refuses
    replaced by its full-width form, no leading or trailing dot or space, at most ``limit``
    characters with the extension kept. ``fallback`` when nothing is left."""
    name = clean_filename(unicodedata.normalize("NFC", text).translate(_WINDOWS))
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 8 and stem:
            name = stem[: limit - len(ext) - 1] + "." + ext
        else:
            name = name[:limit]
    name = name.strip(" .\u3000")
    return name or fallback


@dataclass
class Entry:
    """One file of an export: its path inside the export (components joined by ``/``, each
    made by `safe_name`) and its bytes, read only when the file is written."""

    name: str
    chunks: Callable[[], Iterable[bytes]]
    compress: bool = False
    """Deflate it (text); PDFs are compressed already and are stored as they are."""


class _Manifest:
    """Each written file's name, size and SHA-256, kept in a temporary file until the end."""

    def __init__(self) -> None:
        self._rows: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self.files = 0

    def hashing(self, entry: Entry) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        for piece in entry.chunks():
            digest.update(piece)
            size += len(piece)
            yield piece
        self._rows.write(f"{digest.hexdigest()}\t{size}\t{entry.name}\n")
        self.files += 1

    def _lines(self) -> Iterator[tuple[str, int, str]]:
        self._rows.seek(0)
        for line in self._rows:
            sha256, size, name = line.rstrip("\n").split("\t", 2)
            yield sha256, int(size), name

    def entries(self) -> list[Entry]:
        """The manifest's own files: 目録.csv and SHA256SUMS (which do not list themselves)."""

        def csv_rows() -> Iterator[list[object]]:
            yield ["ファイル", "バイト数", "SHA-256"]
            for sha256, size, name in self._lines():
                yield [name, size, sha256]

        def csv_chunks() -> Iterator[bytes]:
            return excel_csv.lines(csv_rows())

        def sums() -> Iterator[bytes]:
            for sha256, _size, name in self._lines():
                yield f"{sha256}  {name}\n".encode()

        return [
            Entry(MANIFEST_CSV, csv_chunks, compress=True),
            Entry(MANIFEST_SUMS, sums, compress=True),
        ]

    def close(self) -> None:
        self._rows.close()


def zip_chunks(entries: Iterable[Entry]) -> Iterator[bytes]:
    """The export as a ZIP (ZIP64 where needed; names in UTF-8), piece by piece as each file
    is read, then the manifest and the central directory. A file that cannot be read ends
    the stream early: what was sent is not a valid ZIP (no central directory), never one
    with a file missing unnoticed."""
    archive = ZipStream(compress_type=ZIP_STORED)
    manifest = _Manifest()
    try:
        for entry in entries:
            archive.add(
                manifest.hashing(entry),
                entry.name,
                compress_type=ZIP_DEFLATED if entry.compress else ZIP_STORED,
            )
            yield from archive.all_files()
        for entry in manifest.entries():
            archive.add(entry.chunks(), entry.name, compress_type=ZIP_DEFLATED)
        yield from archive.finalize()
    finally:
        manifest.close()


def folder_write(entries: Iterable[Entry], dest: Path) -> int:
    """Write the export into the folder ``dest`` (created; it must be empty or missing), each
    file in chunks, then the manifest. Returns the number of files listed in the manifest.
    Raises FileExistsError if ``dest`` holds anything."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    manifest = _Manifest()
    try:
        for entry in entries:
            _write(dest, entry.name, manifest.hashing(entry))
        for entry in manifest.entries():
            _write(dest, entry.name, entry.chunks())
        return manifest.files
    finally:
        manifest.close()


def _write(dest: Path, name: str, chunks: Iterable[bytes]) -> None:
    # Plain strings, not pathlib: pathlib interns every component of every path it parses, and
    # the interpreter's table of interned strings (shared by the whole process, several MB in
    # a web worker) is copied whole each time new names fill it; tens of thousands of unique
    # names a run would do that again and again.
    root = os.path.realpath(dest)
    path = os.path.join(root, *name.split("/"))
    # The names are made by safe_name; this is the last guard against a path leaving dest.
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise ValueError(f"unsafe name in export: {name!r}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "xb") as out:
        for piece in chunks:
            out.write(piece)


def zip_write(entries: Iterable[Entry], dest: Path) -> None:
    """Write the export as the ZIP file ``dest`` (which must not exist), piece by piece."""
    with dest.open("xb") as out:
        for piece in zip_chunks(entries):
            out.write(piece)
