"""Sentences kept untranslated, to be read in the reader's language.

What the worker writes down (timeline events) is read later by people of other languages,
and the worker itself runs in English: storing the finished sentence would show English to
a 中文 reader. A `Text` keeps the msgid and its arguments instead; `render` translates at
display time. Call sites mark the msgid with `gettext_noop` so makemessages extracts it.
An argument that is itself a label (a status, "automatic") is a `Text` too, so it is
translated at display time as well; anything else (names, versions) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, override

# Marks a stored argument that is a Text of its own: {"__text__": msgid, "args": {...}}.
_TEXT = "__text__"


class Text:
    """A msgid with its arguments; `str()` renders it in the active language."""

    __slots__ = ("args", "msgid")

    def __init__(self, msgid: str, /, **args: Any) -> None:
        self.msgid = msgid
        self.args = args

    @classmethod
    def label(cls, label: str | Promise) -> Text:
        """A lazily translated label (a model choice's) as a Text: its English is its msgid."""
        with override("en"):
            return cls(str(label))

    def to_json(self) -> dict[str, Any]:
        return {name: _arg_to_json(value) for name, value in self.args.items()}

    def english(self) -> str:
        with override("en"):
            return render(self.msgid, self.to_json())

    def __str__(self) -> str:
        return render(self.msgid, self.to_json())

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, **{self.args!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.msgid, self.args) == (other.msgid, other.args)

    __hash__ = None  # type: ignore[assignment]


def _arg_to_json(value: Any) -> Any:
    if isinstance(value, Text):
        return {_TEXT: value.msgid, "args": value.to_json()}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return str(value)


def _arg_rendered(value: Any) -> Any:
    if isinstance(value, Mapping) and _TEXT in value:
        return render(str(value[_TEXT]), value.get("args") or {})
    return value


def render(msgid: str, args: Mapping[str, Any] | None = None) -> str:
    """`msgid` translated into the active language, with `args` put in. A translation that
    does not fit its arguments falls back to the English sentence rather than failing."""
    rendered = {name: _arg_rendered(value) for name, value in (args or {}).items()}
    if not rendered:
        return gettext(msgid)
    try:
        return gettext(msgid) % rendered
    except (KeyError, ValueError, TypeError):
        try:
            return msgid % rendered
        except (KeyError, ValueError, TypeError):
            return msgid


def interpolate_lazy(message: str | Promise, args: Mapping[str, Any]) -> str:
    """`gettext_lazy(...) % args` stays lazy: `%` on a lazy string translates at once, so
    at class level (a form field's help text) it is frozen in the language of the import,
    English, for every reader."""
    return _interpolated(message, args)


def _interpolate(message: str | Promise, args: Mapping[str, Any]) -> str:
    return str(message) % args


_interpolated = lazy(_interpolate, str)
