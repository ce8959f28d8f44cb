"""The HTML part of every mail, made from its plain text (issue 14).

A mail has one source, its text template (`notifications/mail/<kind>.txt`); the HTML part is
the same text laid out, so the two cannot say different things. What the text's shape means:

- a blank line separates paragraphs; lines within a paragraph are kept as lines;
- a line that is one of keiyaku's own URLs (it starts with PUBLIC_URL) becomes a link; the
  first one that leads to an action (`BUTTONS`: a signing link, a download page, a contract
  page, a form) becomes a button named after where it leads, with the URL itself below it;
- lines starting with ``> `` are somebody's own words (a forwarder's message, a reason), shown
  as a quotation and never turned into links or headings;
- a line starting with ``■`` is a heading; everything after the line ``-- `` is the footer.

Every piece of text is escaped; the only markup is what this module writes, and the only
``href`` values are URLs that stand on a line of their own in the text. Inline CSS only, no
image, no remote resource: mail programs drop ``<style>`` and block remote content.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _

#: Where a link leads (its route's name) → the label of its button.
BUTTONS = {
    "sign-entry": _("書類を確認する"),
    "download-entry": _("署名済みの書類をダウンロードする"),
    "contract-detail": _("案件を開く"),
    "application-form": _("利用申出書を入力する"),
    "signin-welcome": _("パスワードを設定する"),
}

QUOTE = "> "
FOOTER = "-- "

FONT = (
    "font-family:'Noto Sans JP','Hiragino Kaku Gothic ProN','Hiragino Sans',Meiryo,"
    "'Yu Gothic',sans-serif"
)
# The Digital Agency design system's key colour (blue-900) on white: contrast 12.6:1.
KEY = "#0017c1"
TEXT = "#1a1a1c"
MUTED = "#626264"


def _own_url(line: str) -> bool:
    return (
        line.startswith((settings.PUBLIC_URL + "/", settings.PUBLIC_URL + "?"))
        and " " not in line
        and "\u3000" not in line
    )


def _button_label(url: str) -> str:
    try:
        name = resolve(urlsplit(url).path).url_name or ""
    except Resolver404:
        return ""
    label = BUTTONS.get(name)
    return str(label) if label is not None else ""


def _button(url: str, label: str) -> str:
    href = html.escape(url)
    return (
        '<table role="presentation" cellspacing="0" cellpadding="0" border="0" '
        'style="margin:8px 0 4px"><tr>'
        f'<td style="background:{KEY};border-radius:8px">'
        f'<a href="{href}" style="display:inline-block;padding:14px 28px;color:#ffffff;'
        f'font-size:16px;font-weight:bold;text-decoration:none;{FONT}">{html.escape(label)}</a>'
        "</td></tr></table>"
        f'<p style="margin:0 0 16px;font-size:12px;color:{MUTED};word-break:break-all">'
        f'<a href="{href}" style="color:{MUTED}">{href}</a></p>'
    )


def _link(url: str) -> str:
    href = html.escape(url)
    return (
        f'<p style="margin:0 0 16px;word-break:break-all">'
        f'<a href="{href}" style="color:{KEY}">{href}</a></p>'
    )


def _paragraphs(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _text(lines: list[str]) -> str:
    return '<p style="margin:0 0 16px">' + "<br>".join(html.escape(t) for t in lines) + "</p>"


def _quote(lines: list[str]) -> str:
    return (
        '<blockquote style="margin:0 0 16px;padding:8px 12px;border-left:4px solid #b4b4b7;'
        'background:#f1f1f4">' + "<br>".join(html.escape(q) for q in lines) + "</blockquote>"
    )


def _runs(block: list[str]) -> list[tuple[str, list[str]]]:
    """A paragraph's lines as runs of one kind: quote, url, heading or text."""
    runs: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith(QUOTE) or line == QUOTE.strip():
            kind, value = "quote", line[len(QUOTE) :]
        elif _own_url(line.strip()):
            kind, value = "url", line.strip()
        elif line.strip().startswith("■"):
            kind, value = "heading", line.strip()
        else:
            kind, value = "text", line
        if runs and runs[-1][0] == kind and kind in ("quote", "text"):
            runs[-1][1].append(value)
        else:
            runs.append((kind, [value]))
    return runs


def _body_html(lines: list[str]) -> str:
    out: list[str] = []
    button_made = False
    for block in _paragraphs(lines):
        for kind, values in _runs(block):
            if kind == "quote":
                out.append(_quote(values))
            elif kind == "text":
                out.append(_text(values))
            elif kind == "heading":
                out.append(
                    f'<p style="margin:0 0 4px;font-weight:bold">{html.escape(values[0])}</p>'
                )
            else:
                label = "" if button_made else _button_label(values[0])
                button_made = button_made or bool(label)
                out.append(_button(values[0], label) if label else _link(values[0]))
    return "".join(out)


def mail_html(*, subject: str, body: str) -> str:
    """The HTML alternative of a mail whose plain text is `body` (see the module's rules).

    The same words in the same order; each ``href`` is a URL found alone on a line of `body`,
    so every link of the HTML part is in the text part too (issue 14, acceptance 2).
    """
    lines = body.replace("\r\n", "\n").split("\n")
    main, footer = lines, []
    if FOOTER in lines:
        cut = lines.index(FOOTER)
        main, footer = lines[:cut], lines[cut + 1 :]
    content = _body_html(main)
    foot = "<br>".join(html.escape(f) for f in footer if f.strip())
    return (
        f'<!DOCTYPE html><html lang="{html.escape(settings.LANGUAGE_CODE)}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f1f1f4;color:{TEXT};{FONT}">'
        '<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0" '
        'style="background:#f1f1f4"><tr><td align="center" style="padding:24px 8px">'
        '<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0" '
        'style="max-width:600px;background:#ffffff;border:1px solid #d8d8db;border-radius:8px">'
        f'<tr><td style="padding:24px;font-size:16px;line-height:1.7;color:{TEXT};{FONT}">'
        f"{content}"
        "</td></tr></table>"
        + (
            f'<p style="margin:16px 0 0;font-size:12px;color:{MUTED};{FONT}">{foot}</p>'
            if foot
            else ""
        )
        + "</td></tr></table></body></html>"
    )
