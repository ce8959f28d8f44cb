"""Template tags of the help pages: the help link every screen carries, and the manuals'
screenshots."""

from __future__ import annotations

import re

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from keiyaku.help.sections import help_target

register = template.Library()

# A screenshot's name: what tests/browser/screenshots.py accepts, and its file name's stem.
SHOT_NAME = re.compile(r"^(staff|guide)-[a-z0-9]+(-[a-z0-9]+)*$")
SHOTS_FOLDER = "help/shots"


@register.simple_tag(takes_context=True)
def help_link(context: template.Context, audience: str | None = None) -> str:
    """The footer's link to the manual section explaining the page being shown (sections.py):
    the staff manual for staff pages, the counterparty guide for counterparty pages
    (``audience="guide"``, the counterparty pages' base)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    manual, anchor = help_target(
        match.view_name if match else None,
        audience=audience,
        staff=bool(user and user.is_authenticated),
    )
    url = reverse("help", args=[manual.slug]) + (f"#{anchor}" if anchor else "")
    text = _("操作マニュアル") if manual.slug == "staff" else _("ご利用ガイド")
    return format_html('<a href="{}" id="help-link">{}</a>', url, text)


@register.simple_tag
def shot(name: str, caption: str, *, size: str = "desktop") -> str:
    """A screenshot of the manual: ``static/help/shots/<name>.png``, taken by a browser test
    (``manual_screenshot(page, name)``), with ``caption`` as its caption and alt text.
    ``size`` "phone" shows it at a phone's width. Refuses a name the tests could not write."""
    if not SHOT_NAME.match(name):
        raise template.TemplateSyntaxError(f"screenshot name {name!r}: lower-case, staff-/guide-")
    return format_html(
        '<figure class="shot {}"><img src="{}" alt="{}"><figcaption>{}</figcaption></figure>',
        size,
        static(f"{SHOTS_FOLDER}/{name}.png"),
        caption,
        caption,
    )


@register.simple_tag(takes_context=True)
def heading(context: template.Context, anchor: str) -> str:
    """The numbered heading of section ``anchor`` of the manual being shown (its ``manual``,
    sections.py), with the anchor the screens' help links open. Refuses an anchor the manual's
    table of contents does not list."""
    manual = context["manual"]
    for number, (known, text) in enumerate(manual.sections, start=1):
        if known == anchor:
            return format_html('<h2 id="{}">{}. {}</h2>', anchor, number, text)
    raise template.TemplateSyntaxError(f"{manual.slug} has no section {anchor!r}")
