"""Sentences kept untranslated, to be read in the reader's language.

What the worker writes down (timeline events) is read later by people of other languages,
and the worker itself runs in English: storing the finished sentence would show English to
a 中文 reader. A `Text` keeps the msgid and its arguments instead; `render` translates at
display time. Call sites mark the msgid with `gettext_noop` so makemessages extracts it.
An argument that is itself a label (a status, "automatic") is a `Text` too, so it is
translated at display time as well; anything else (names, versions) is shown as it is.

A field that holds such a sentence (an installation's failure reason, a verification's
result) stays English, as the API has always said it, and gets a JSON twin kept by
`stored`; the model's `display_*` property reads it through `shown`. The cluster's own words
(OLM's and Kubernetes' messages and reasons) are arguments, never translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise, lazy
from django.utils.translation import gettext, override, pgettext

# Marks a stored argument that is a Text of its own: {"__text__": msgid, "args": {...}}.
_TEXT = "__text__"
# Marks a stored argument that is a list of pieces (Texts or words): {"__list__": [...]}.
_LIST = "__list__"


class Text:
    """A msgid with its arguments; `str()` renders it in the active language."""

    __slots__ = ("args", "msgid")

    def __init__(self, msgid: str, /, **args: Any) -> None:
        self.msgid = msgid
        self.args = args

    @classmethod
    def from_json(cls, msgid: str, args: Mapping[str, Any] | None = None) -> Text:
        """A Text stored earlier (`to_json`), e.g. to quote it inside another one."""
        return cls(msgid, **dict(args or {}))

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
    if isinstance(value, Mapping) and _TEXT in value:  # already stored (Text.from_json)
        return {_TEXT: str(value[_TEXT]), "args": dict(value.get("args") or {})}
    if isinstance(value, Mapping) and _LIST in value:
        return {_LIST: list(value[_LIST])}
    if isinstance(value, list | tuple):  # a list of pieces, joined when read
        return {_LIST: [_arg_to_json(item) for item in value]}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return str(value)


def _arg_rendered(value: Any) -> Any:
    if isinstance(value, Mapping) and _TEXT in value:
        return render(str(value[_TEXT]), value.get("args") or {})
    if isinstance(value, Mapping) and _LIST in value:
        # "; " in English, "；" in 中文: the separator is the reader's too.
        separator = pgettext("separator of a list of phrases", "; ")
        return separator.join(str(_arg_rendered(item)) for item in value[_LIST])
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


def stored(message: str | Text) -> dict[str, Any]:
    """What a model keeps beside an English field so the sentence can be read in any
    language: {"id", "args", "en"}, or {} for a plain string (the cluster's own words).

    "en" is the English it stood for: `shown` uses the stored form only while the English
    field still says that, so a writer that sets the field alone (an older code path, a
    plain reason) is never shown a stale translation."""
    if not isinstance(message, Text):
        return {}
    return {"id": message.msgid, "args": message.to_json(), "en": message.english()}


def english(message: str | Text) -> str:
    return message.english() if isinstance(message, Text) else message


def shown(english_text: str, kept: Mapping[str, Any] | None) -> str:
    """A stored sentence in the active language: the `stored` form while it still matches
    the English field, else the field as it is."""
    if not kept or not kept.get("id") or kept.get("en") != english_text:
        return english_text
    return render(str(kept["id"]), kept.get("args") or {})


def shown_all(english_texts: list[str], kept: list[Mapping[str, Any]] | None) -> list[str]:
    """`shown` for a list (notes): each English line with the stored form that stood for it."""
    by_english = {item.get("en"): item for item in kept or [] if isinstance(item, Mapping)}
    return [shown(line, by_english.get(line)) for line in english_texts or []]


def kept_text(english_text: str, kept: Mapping[str, Any] | None) -> str | Text:
    """The stored sentence back as a Text (to quote it in another one), else the English."""
    if not kept or not kept.get("id") or kept.get("en") != english_text:
        return english_text
    return Text.from_json(str(kept["id"]), kept.get("args"))


def interpolate_lazy(message: str | Promise, args: Mapping[str, Any]) -> str:
    """`gettext_lazy(...) % args` stays lazy: `%` on a lazy string translates at once, so
    at class level (a form field's help text) it is frozen in the language of the import,
    English, for every reader."""
    return _interpolated(message, args)


def _interpolate(message: str | Promise, args: Mapping[str, Any]) -> str:
    return str(message) % args


_interpolated = lazy(_interpolate, str)
