"""What a forwarded request tells the person it was forwarded to (R17, issue 14): who
forwarded it, with which message, and whom to ask for the access code.

One wording for the mail, the access-code page and the signing pages (through the
`counterparty` template library), and for the forwarder's own page, which says what the new
signer will read. The access code itself is never in a mail (R7): the forwarder passes it on.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


def forwarded_by(party: Any) -> Any | None:
    """The party that forwarded its request to `party`, or None. Costs no query when the link
    lookup selected it (`contracts.links.link_find`) or when the party was not forwarded."""
    if party is None or getattr(party, "forwarded_from_id", None) is None:
        return None
    return party.forwarded_from


def person_label(party: Any) -> str:
    """「会社名 氏名」 as a forwarder is named (the company left out when it has none)."""
    return f"{party.company} {party.name}".strip()


def _ask_forwarder(label: str) -> str:
    return _(
        "書類を開くにはアクセスコードが必要です。アクセスコードは、転送元の %(forwarder)s 様に"
        "お問い合わせください。"
    ) % {"forwarder": label}


def access_code_instruction(party: Any, organisation: Any) -> str:
    """Where `party` (of a contract of `organisation`) gets its access code: from the
    forwarder who sent it the request, else from the organisation (R7: never in the mail)."""
    forwarder = forwarded_by(party)
    if forwarder is not None:
        return _ask_forwarder(person_label(forwarder))
    return _(
        "書類を開くにはアクセスコードが必要です。アクセスコードは、%(organisation)s 様から"
        "別途通知されたものを入力してください。"
    ) % {"organisation": organisation.name}


def forward_code_note(forwarder: Any) -> str:
    """What the forward page tells the forwarder: the new signer is told to ask it for the
    code, in the very words the new signer reads."""
    return _(
        "転送先の方へのメールと画面には「%(instruction)s」と表示されます。"
        "アクセスコードは、転送先の方にあなたから別途お伝えください。"
    ) % {"instruction": _ask_forwarder(person_label(forwarder))}
