"""A process of its own that signs contracts as their parties do, one after the other.

``python -m tests.storage.signer_process '[["/s/…/", "1234"], …]'`` with the test settings and
KEIYAKU_TEST_DB: each link is opened, its access code proven and the agreement completed over
Django's test client (the signing job runs inline), printing "signed N" after each.
"""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    import django

    django.setup()
    from django.test import Client

    from tests.flow import agree

    for number, (link, code) in enumerate(json.loads(sys.argv[1]), start=1):
        agree(Client(), link, code)
        print(f"signed {number}", flush=True)  # noqa: T201 - read by the test
