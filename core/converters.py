"""A URL converter that matches one of a fixed set of words (a page's tabs)."""

import re

from django.urls import register_converter


def register_choice_converter(name: str, choices: tuple[str, ...]) -> None:
    """Register ``<name:…>`` matching only ``choices``, so any other word is the friendly 404."""

    class ChoiceConverter:
        regex = "|".join(re.escape(choice) for choice in choices)

        def to_python(self, value: str) -> str:
            return value

        def to_url(self, value: str) -> str:
            return value

    register_converter(ChoiceConverter, name)
