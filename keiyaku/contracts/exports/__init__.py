"""Contracts taken out of keiyaku (R28, R34; issue 15): the CSV of a search result, a ZIP of the
result's signed PDFs and certificates, and an organisation's whole export.

- `walk`: the contracts of a result or an organisation in keyset batches (never all at once);
- `table`: the CSV columns (Excel-friendly, through `keiyaku.excel_csv`), one row a contract;
- `archive`: names inside an export, and the writers (a streamed ZIP, or a folder on disk)
  with the manifest of every file and its SHA-256;
- `files`: which stored files of a contract an export carries;
- `services`: the exports themselves, each audited, each reading through the visibility
  selector (R29) or refusing anyone but an admin (R34).

Nothing here holds a whole result or a whole file: files are read in chunks
(`keiyaku.storage.blobs.blob_chunks`) and written as they are read.
"""
