#!/usr/bin/env python3
"""Merge translations from a JSON object {msgid: msgstr} into a gettext .po file.

    python scripts/fill_translations.py locale/zh_Hans/LC_MESSAGES/django.po new.json

Existing translations are kept unless the JSON gives a new one; fuzzy marks are
dropped. Plural entries take the JSON value of their singular msgid (one form, as
Chinese has). Prints the msgids still untranslated, so a run shows what is left.
"""

import json
import sys


def _unquote(lines):
    return "".join(json.loads(line) for line in lines if line.strip())


def _quote(text):
    return json.dumps(text, ensure_ascii=False)


def fill(po_text, translations):
    blocks = po_text.rstrip("\n").split("\n\n")
    out, missing = [], []
    for block in blocks:
        lines = [
            line for line in block.split("\n") if line != "#, fuzzy" and not line.startswith("#| ")
        ]
        lines = [line.replace("#, fuzzy, ", "#, ") for line in lines]
        try:
            start = next(i for i, line in enumerate(lines) if line.startswith("msgid "))
        except StopIteration:
            out.append("\n".join(lines))
            continue
        head = lines[:start]
        rest = lines[start:]
        keys = [i for i, line in enumerate(rest) if not line.startswith('"')]
        parts = {}
        for n, i in enumerate(keys):
            end = keys[n + 1] if n + 1 < len(keys) else len(rest)
            keyword, first = rest[i].split(" ", 1)
            parts[keyword] = _unquote([first, *rest[i + 1 : end]])
        msgid = parts.get("msgid", "")
        if msgid == "":
            out.append("\n".join(lines))
            continue
        if "msgid_plural" in parts:
            current = parts.get("msgstr[0]", "")
            text = translations.get(msgid) or translations.get(parts["msgid_plural"]) or current
            if not text:
                missing.append(msgid)
            body = [
                f"msgid {_quote(msgid)}",
                f"msgid_plural {_quote(parts['msgid_plural'])}",
                f"msgstr[0] {_quote(text)}",
            ]
        else:
            text = translations.get(msgid) or parts.get("msgstr", "")
            if not text:
                missing.append(msgid)
            body = [f"msgid {_quote(msgid)}", f"msgstr {_quote(text)}"]
        out.append("\n".join(head + body))
    return "\n\n".join(out) + "\n", missing


def main():
    po_path, json_path = sys.argv[1], sys.argv[2]
    with open(json_path, encoding="utf-8") as handle:
        translations = json.load(handle)
    with open(po_path, encoding="utf-8") as handle:
        text, missing = fill(handle.read(), translations)
    with open(po_path, "w", encoding="utf-8") as handle:
        handle.write(text)
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
