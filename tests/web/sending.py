"""「署名依頼を送信する」 as a browser does it: the confirmation page, then the send it offers."""

from __future__ import annotations

import html
import re

from django.test import Client

SUMMARY_RE = re.compile(r'name="summary" value="([0-9a-f]{64})"')
DEADLINE_RE = re.compile(r'name="deadline" value="([0-9-]*)"')


def confirm_page(client: Client, contract, deadline: str = ""):
    """The confirmation page for sending `contract` with `deadline` (YYYY-MM-DD or blank)."""
    return client.get(f"/contracts/{contract.pk}/send/confirm/", {"deadline": deadline})


def send_confirmed(client: Client, contract, deadline: str = "", **post_kwargs):
    """Open the confirmation and send from it; a confirmation that refused (the detail page
    with its message) is returned as it came."""
    shown = confirm_page(client, contract, deadline)
    page = html.unescape(shown.content.decode())
    found = SUMMARY_RE.search(page)
    if shown.status_code != 200 or found is None:
        return client.get(shown["Location"], **post_kwargs) if shown.status_code == 302 else shown
    data = {"summary": found.group(1), "deadline": DEADLINE_RE.search(page).group(1)}
    return client.post(f"/contracts/{contract.pk}/send/", data, **post_kwargs)
