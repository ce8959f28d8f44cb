"""`WidgetRenderer` writes exactly what Django's widget templates write (keiyaku/web/form_renderer.py).

Every built-in widget it writes is rendered both ways, over values that need escaping, safe
strings, numbers and dates (localised by the template engine), options in groups, selected
options, boolean attributes and inputs without an id; and every field of keiyaku's own forms,
bound and unbound. The two must be equal character for character.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override

from keiyaku.web.form_renderer import _WRITERS, WidgetRenderer

TEMPLATES = DjangoTemplates()
FAST = WidgetRenderer()

VALUES: list[Any] = [
    None,
    "",
    "plain",
    "<b>\"quoted\" & 'single'</b>",
    mark_safe("<i>already safe</i>"),
    "札幌市　中央区",
    0,
    1234567,
    3.5,
    dt.date(2026, 4, 1),
    True,
    False,
]
ATTRS: list[dict[str, Any]] = [
    {},
    {"id": "id_x"},
    {"id": "id_x", "class": "wide <big>", "required": True, "disabled": False},
    {
        "inputmode": "numeric",
        "maxlength": 200,
        "placeholder": '例: "道路"',
        "data-x": mark_safe("&amp;"),
    },
]
CHOICES: list[Any] = [
    [("", "—"), ("a", "あ"), ("b<", '"b"'), (3, 3)],
    [
        ("Group <1>", [("x", "X"), ("y", gettext_lazy("案件名"))]),
        ("z", "Z"),
        (dt.date(2026, 1, 2), "日付"),
    ],
]


def _widgets() -> Iterator[forms.Widget]:
    for cls in (
        forms.TextInput,
        forms.NumberInput,
        forms.EmailInput,
        forms.URLInput,
        forms.PasswordInput,
        forms.HiddenInput,
        forms.DateInput,
        forms.TimeInput,
        forms.DateTimeInput,
        forms.Textarea,
        forms.CheckboxInput,
        forms.FileInput,
    ):
        for attrs in ATTRS:
            yield cls(attrs=attrs)
    for cls in (
        forms.Select,
        forms.SelectMultiple,
        forms.CheckboxSelectMultiple,
        forms.RadioSelect,
    ):
        for attrs in ATTRS:
            for choices in CHOICES:
                yield cls(attrs=attrs, choices=choices)


def _both(
    widget: forms.Widget, name: str, value: Any, attrs: dict[str, Any] | None
) -> tuple[str, str]:
    return (
        widget.render(name, value, attrs=attrs, renderer=TEMPLATES),
        widget.render(name, value, attrs=attrs, renderer=FAST),
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_built_in_widget_is_written_as_its_template_writes_it(language: str) -> None:
    compared = 0
    with override(language):
        for widget in _widgets():
            for value in [*VALUES, ["a", "x", 3], ("b<",)]:
                for attrs in (None, {"id": "id_given", "aria-describedby": "help"}):
                    expected, written = _both(widget, "name<&>", value, attrs)
                    assert written == expected, (type(widget).__name__, value, attrs)
                    compared += 1
    assert compared > 2000


def test_every_template_it_writes_is_one_django_has() -> None:
    """A name in `_WRITERS` that Django no longer ships would silently never be used."""
    for name in _WRITERS:
        assert TEMPLATES.get_template(name) is not None


def _keiyaku_forms() -> Iterator[type[forms.BaseForm]]:
    import importlib
    from pathlib import Path

    import keiyaku

    root = Path(keiyaku.__file__).parent
    names = sorted(p.parent.name for p in root.glob("*/forms.py"))
    assert "web" in names and len(names) >= 5
    for module in (importlib.import_module(f"keiyaku.{name}.forms") for name in names):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                yield cls


def _instances(cls: type[forms.BaseForm]) -> Iterator[forms.BaseForm]:
    needed = {
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and parameter.default is inspect.Parameter.empty
    }
    kwargs = {name: None for name in needed}
    try:  # a form that needs a real object to be made is left to its own tests
        unbound = cls(**kwargs)
    except (TypeError, AttributeError):
        return
    yield unbound
    data = {name: '<x>"&' for name in cls.base_fields}
    yield cls(data, **kwargs)


@pytest.mark.django_db
def test_every_field_of_keiyakus_forms_renders_alike() -> None:
    compared = 0
    for cls in _keiyaku_forms():
        for form in _instances(cls):
            for field in form:
                form.renderer = TEMPLATES
                expected = str(field)
                form.renderer = FAST
                written = str(field)
                assert written == expected, (cls.__name__, field.name)
                compared += 1
    assert compared > 50


def test_the_setting_uses_it() -> None:
    assert settings.FORM_RENDERER == "keiyaku.web.form_renderer.WidgetRenderer"


class _Marked:
    """Not a string, with an ``__html__``: the template engine makes it a string (escaped)
    before it would look for ``__html__``."""

    def __html__(self) -> str:
        return "<b>marked</b>"

    def __str__(self) -> str:
        return "<b>plain</b>"


def _placeholder() -> str:
    """An attribute's value the template engine calls, as it calls any callable variable."""
    return "called <here>"


def test_values_resolve_as_the_template_engine_resolves_them() -> None:
    """`{{ value }}` shows an aware time in the current time zone (`template_localtime`) and
    makes a non-string a string before escaping; a callable attribute is called. A select of
    times (a version, a deadline) written in UTC would be nine hours off in Japan."""
    aware = dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC)  # 2026-04-01 00:30 in Japan
    choices = [
        ("t", aware),
        ("m", _Marked()),
        (aware, [("g", "in a group named by a time")]),
    ]
    widgets: list[forms.Widget] = [
        forms.Select(choices=choices),
        forms.SelectMultiple(choices=choices),
        forms.RadioSelect(choices=choices),
        forms.CheckboxSelectMultiple(choices=choices),
        forms.TextInput(attrs={"placeholder": _placeholder}),
        forms.Textarea(attrs={"placeholder": _placeholder}),
    ]
    for language in ("ja", "en"):
        with override(language):
            for widget in widgets:
                expected, written = _both(widget, "when", "t", None)
                assert written == expected, (language, type(widget).__name__)
    with override("ja"):
        assert "2026年4月1日0:30" in _both(widgets[0], "when", None, None)[1]
