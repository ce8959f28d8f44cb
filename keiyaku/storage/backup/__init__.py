"""Backups and restore of a whole installation (R42).

`backup_create(dest=…)` writes one *generation* into a backup folder: a consistent snapshot of
the database (SQLite's online backup API, or ``pg_dump`` in custom format inside an exported
snapshot), a manifest naming every stored object with its SHA-256, the PKI folder's files and
the audit archives (objects under ``audit-archive/`` in the object storage, copied by name). Stored objects are write-once, so they go into one folder shared by all
generations and keyed by the SHA-256 of their stored (encrypted) bytes: a generation copies only
objects the previous one did not have. The newest ``KEIYAKU_BACKUP_KEEP`` generations are kept.

`backup_restore(source=…)` puts a generation back into an *empty* installation, checking every
file against the manifest before anything is written, and every object's content (decrypted
with the installation's master key) against the SHA-256 its Blob row records.

The master key is never written into a backup: it must be kept separately (docs/operations.md).
A backup holds only what the master key protects (the data keys, the PKI keys) and a value
sealed with it, so that a restore with another key is refused before it starts.
"""

from keiyaku.storage.backup.create import BackupReport, backup_create
from keiyaku.storage.backup.layout import BackupRefused
from keiyaku.storage.backup.restore import RestoreReport, backup_restore

__all__ = ["BackupRefused", "BackupReport", "RestoreReport", "backup_create", "backup_restore"]
