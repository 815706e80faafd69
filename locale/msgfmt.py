"""Compile a .po catalogue to .mo with the standard library only.

`make install` compiles locale/ with Django's compilemessages (gettext's msgfmt); this is its
fallback where msgfmt is missing and cannot be installed. It writes the same catalogue GNU msgfmt
does for the entries these files use (msgctxt, plurals, multi-line strings); fuzzy and
untranslated entries are left out, as msgfmt leaves them out.

    python locale/msgfmt.py locale/es/LC_MESSAGES/django.po locale/es/LC_MESSAGES/django.mo
"""

import ast
import struct
import sys


def parse(text: str) -> dict[str, str]:
    """The catalogue's entries: key (context, id, plural id) -> translation (plurals NUL-joined)."""
    catalogue: dict[str, str] = {}
    entry: dict[str, list[str]] = {}
    fuzzy = False
    field = None

    def finish():
        nonlocal entry, fuzzy
        if "msgid" in entry:
            msgid = "".join(entry["msgid"])
            key = msgid
            if "msgid_plural" in entry:
                key += "\0" + "".join(entry["msgid_plural"])
            if "msgctxt" in entry:
                key = "".join(entry["msgctxt"]) + "\x04" + key
            forms = sorted(name for name in entry if name.startswith("msgstr"))
            strings = ["".join(entry[name]) for name in forms]
            if (msgid == "" or not fuzzy) and all(strings) and strings:
                catalogue[key] = "\0".join(strings)
        entry, fuzzy = {}, False

    for line in text.splitlines() + [""]:
        line = line.strip()
        if not line:
            finish()
            field = None
        elif line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field].append(ast.literal_eval(line))
        else:
            field, _, value = line.partition(" ")
            if field in ("msgid", "msgctxt") and "msgstr" in " ".join(entry):
                finish()
            entry[field] = [ast.literal_eval(value)]
    return catalogue


def mo_bytes(catalogue: dict[str, str]) -> bytes:
    """GNU .mo: header, the sorted originals' table, the translations' table, then the strings."""
    keys = sorted(catalogue)
    ids = [k.encode() for k in keys]
    strs = [catalogue[k].encode() for k in keys]
    start = 7 * 4 + 16 * len(keys)
    offsets, data = [], b""
    for string in ids + strs:
        offsets.append((len(string), start + len(data)))
        data += string + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    tables = b"".join(struct.pack("<2I", *pair) for pair in offsets)
    return header + tables + data


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as po, open(target, "wb") as mo:
        mo.write(mo_bytes(parse(po.read())))


if __name__ == "__main__":
    main(*sys.argv[1:3])
