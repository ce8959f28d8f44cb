"""Form widgets written in Python: the HTML of Django's own widget templates, without a template.

Django renders each widget (and each option of a select or a set of checkboxes) through a
template of its own. The contract list's search form has some forty inputs and options: their
templates were a third of the whole page's time (bench/search.py, issue 15), more than the
search itself for most searches. `WidgetRenderer` writes the widgets of Django's built-in
templates listed in `_WRITERS` as Python string building, character for character what those
templates write (`tests/web/test_form_renderer.py` compares the two for every widget of every
keiyaku form, bound and unbound, with values needing escaping); any other template (a form, a
label, an error list, a template a widget names of its own) is rendered by Django as before.

Values are escaped as the templates escape them: ``{{ value|stringformat:'s' }}`` is
``str(value)`` escaped unless already safe; ``{{ value }}`` is an aware time in the current
time zone, localised, made a string and then escaped unless safe, as Django's template engine
does (`django.template.base.render_value_in_context`). A widget with an attribute the engine
would call (a callable) is left to Django's templates.

Set as FORM_RENDERER (settings.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # unstubbed

_PREFIX = "django/forms/widgets/"


def _formatted(value: Any) -> str:
    """``{{ value|stringformat:'s' }}`` under autoescape."""
    if isinstance(value, SafeData):
        return str(conditional_escape(value))
    return str(escape(str(value)))


def _shown(value: Any) -> str:
    """``{{ value }}`` under autoescape (`render_value_in_context`): an aware time in the
    current time zone, localised, made a string (an object's own ``__html__`` is not asked),
    then escaped unless safe."""
    value = localize(template_localtime(value))
    if not issubclass(type(value), str):
        value = str(value)
    return str(conditional_escape(value))


def _attrs(attrs: Mapping[str, Any]) -> str:
    """attrs.html: `` name="value"`` each, `` name`` for True, nothing for False."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {_shown(name)}")
        else:
            out.append(f' {_shown(name)}="{_formatted(value)}"')
    return "".join(out)


def _input(widget: Mapping[str, Any]) -> str:
    """input.html (and every template that only includes it)."""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return (
        f'<input type="{_shown(widget["type"])}" name="{_shown(widget["name"])}"'
        f"{value}{_attrs(widget['attrs'])}>"
    )


def _input_option(widget: Mapping[str, Any]) -> str:
    """input_option.html: the input (input.html, whose last line break it keeps), in its
    label."""
    if not widget.get("wrap_label"):
        return _input(widget) + "\n\n"
    target = widget["attrs"].get("id")
    label_for = f' for="{_shown(target)}"' if target else ""
    return f"<label{label_for}>{_input(widget)}\n {_shown(widget['label'])}</label>\n"


def _input_option_included(widget: Mapping[str, Any]) -> str:
    """checkbox_option.html and radio_option.html: input_option.html and a line break."""
    return _input_option(widget) + "\n"


def _select_option(widget: Mapping[str, Any]) -> str:
    """select_option.html."""
    return (
        f'<option value="{_formatted(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{_shown(widget['label'])}</option>\n"
    )


_OPTION_WRITERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    f"{_PREFIX}select_option.html": _select_option,
    f"{_PREFIX}checkbox_option.html": _input_option_included,
    f"{_PREFIX}radio_option.html": _input_option_included,
    f"{_PREFIX}input_option.html": _input_option,
}


def _option(option: Mapping[str, Any]) -> str | None:
    writer = _OPTION_WRITERS.get(option["template_name"])
    return writer(option) if writer is not None else None


def _groups(
    widget: Mapping[str, Any], opening: str, option_format: str, closing: str
) -> str | None:
    """The options of a select or a list of inputs, group by group: ``opening`` (formatted
    with the group's name) and ``closing`` around a named group, each option written into
    ``option_format``; None when an option has a template of its own."""
    out = []
    for group, options, _index in widget["optgroups"]:
        if group:
            out.append(opening.format(_shown(group)))
        for option in options:
            written = _option(option)
            if written is None:
                return None
            out.append(option_format.format(written))
        if group:
            out.append(closing)
    return "".join(out)


def _select(widget: Mapping[str, Any]) -> str | None:
    """select.html."""
    options = _groups(widget, '\n  <optgroup label="{}">', "\n  {}", "\n  </optgroup>")
    if options is None:
        return None
    return f'<select name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>{options}\n</select>'


def _multiple_input(widget: Mapping[str, Any]) -> str | None:
    """multiple_input.html (checkbox_select.html, radio.html)."""
    target = widget["attrs"].get("id")
    css = widget["attrs"].get("class")
    options = _groups(widget, "\n  <div><label>{}</label>", "<div>\n    {}</div>", "\n  </div>")
    if options is None:
        return None
    id_attr = f' id="{_shown(target)}"' if target else ""
    class_attr = f' class="{_shown(css)}"' if css else ""
    return f"<div{id_attr}{class_attr}>{options}\n</div>"


def _textarea(widget: Mapping[str, Any]) -> str:
    """textarea.html."""
    value = _shown(widget["value"]) if widget["value"] else ""
    return (
        f'<textarea name="{_shown(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'
    )


_WRITERS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    **{
        f"{_PREFIX}{name}.html": _input
        for name in (
            "input",
            "text",
            "date",
            "number",
            "email",
            "password",
            "hidden",
            "url",
            "tel",
            "search",
            "color",
            "time",
            "datetime",
            "checkbox",
            "file",
        )
    },
    f"{_PREFIX}select.html": _select,
    f"{_PREFIX}checkbox_select.html": _multiple_input,
    f"{_PREFIX}radio.html": _multiple_input,
    f"{_PREFIX}multiple_input.html": _multiple_input,
    f"{_PREFIX}textarea.html": _textarea,
}


def _written_alike(widget: Mapping[str, Any]) -> bool:
    """No attribute the template engine would call (a callable variable is called when it is
    resolved; options copy the widget's attributes): such a widget is left to the template."""
    return not any(callable(value) for value in widget["attrs"].values())


class WidgetRenderer(DjangoTemplates):
    """Django's template form renderer, with the built-in widgets written in Python.

    `render(template_name, context)` returns what Django's template would (stripped, as
    `BaseRenderer.render` strips it) for the widget templates in `_WRITERS` whose options are
    all built-in; anything else goes to Django's templates.
    """

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        writer = _WRITERS.get(template_name)
        if writer is not None and "widget" in context and _written_alike(context["widget"]):
            written = writer(context["widget"])
            if written is not None:
                return written.strip()
        return super().render(template_name, context, request=request)
