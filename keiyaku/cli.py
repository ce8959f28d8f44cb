"""The `keiyaku` command: Django's management commands with keiyaku's settings."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from keiyaku.operations.allocator import allocator_configure

    allocator_configure()  # large files: see the module
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiyaku.settings")
    parent = os.environ.pop("KEIYAKU_SERVE_PARENT_PID", "")
    if parent:
        # Started by `keiyaku serve`: end with it (keiyaku.process_lifetime).
        from keiyaku.process_lifetime import exit_with_parent

        exit_with_parent(int(parent))
    from django.core.management import execute_from_command_line

    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        # `keiyaku rotate-master-key` is the command module rotate_master_key.
        sys.argv[1] = sys.argv[1].replace("-", "_")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
