"""What a text field may hold, and the key an MRN is compared by (docs/security.md, "Text and
identities"; docs/domain.md section 4, "Text fields").

One-line fields (names, MRN, iPLEDGE ID, RMA number, clinic name, phone, email) refuse control
characters (C0, DEL, C1), line and paragraph separators, zero-width characters and
bidirectional controls: a CR or LF forges a line in a header, a CSV row or a log, a
right-to-left override shows "gpj.exe" as "exe.jpg", and a zero-width space makes two MRNs that
look the same differ. Notes and reasons keep line breaks and tabs and refuse the rest.

The model fields carry these validators, so ModelForms, the admin and DRF's ModelSerializers
check them; forms and serializers that declare a field by hand add them (api.serializers
states the same sets as the schema's pattern). `manage.py report_unsafe_text` finds rows stored
before the check existed.
"""

import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.deconstruct import deconstructible

# (first, last) code points, inclusive.
CONTROL = ((0x00, 0x1F), (0x7F, 0x9F))  # C0, DEL, C1
LINE_BREAKS = ((0x0A, 0x0A), (0x0D, 0x0D))  # LF, CR: notes keep them
TAB = ((0x09, 0x09),)
SEPARATORS = ((0x2028, 0x2029),)  # LINE SEPARATOR, PARAGRAPH SEPARATOR
ZERO_WIDTH = ((0x200B, 0x200D), (0x2060, 0x2060), (0xFEFF, 0xFEFF))
BIDI = ((0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))


def _codes(*groups) -> frozenset[int]:
    return frozenset(c for group in groups for first, last in group for c in range(first, last + 1))


ONE_LINE_REFUSED = _codes(CONTROL, SEPARATORS, ZERO_WIDTH, BIDI)
MULTI_LINE_REFUSED = ONE_LINE_REFUSED - _codes(LINE_BREAKS, TAB, SEPARATORS)
_INVISIBLE = _codes(ZERO_WIDTH)


def character_class(refused: frozenset[int]) -> str:
    """The refused code points as the body of a regular expression's character class, each as
    a \\uXXXX escape (the form both Python and JSON Schema's ECMA patterns read)."""
    ranges, start, previous = [], None, None
    for code in sorted(refused):
        if start is not None and code == previous + 1:
            previous = code
            continue
        if start is not None:
            ranges.append((start, previous))
        start = previous = code
    if start is not None:
        ranges.append((start, previous))
    return "".join(
        f"\\u{first:04x}" if first == last else f"\\u{first:04x}-\\u{last:04x}"
        for first, last in ranges
    )


def _describe(code: int) -> str:
    char = chr(code)
    if char in "\r\n":
        return "a line break"
    if char == "\t":
        return "a tab"
    if code in _INVISIBLE:
        return f"an invisible character (U+{code:04X})"
    if code in _codes(BIDI):
        return f"a text-direction control (U+{code:04X})"
    return f"a control character (U+{code:04X})"


def first_refused(value: str, refused: frozenset[int]) -> int | None:
    for char in value:
        if ord(char) in refused:
            return ord(char)
    return None


@deconstructible
class TextValidator:
    """Refuses a value holding any of the refused characters, naming the first one found
    (never echoing the value, which may be a patient's name)."""

    def __init__(self, multi_line: bool = False):
        self.multi_line = multi_line

    @property
    def refused(self) -> frozenset[int]:
        return MULTI_LINE_REFUSED if self.multi_line else ONE_LINE_REFUSED

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        code = first_refused(value, self.refused)
        if code is not None:
            where = "this field" if self.multi_line else "this one-line field"
            raise ValidationError(
                f"Remove {_describe(code)}: {where} cannot hold it. Retype the text rather than "
                "pasting it.",
                code="unsafe_text",
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, TextValidator) and other.multi_line == self.multi_line

    def __hash__(self) -> int:
        return hash(self.multi_line)


one_line = TextValidator()
multi_line = TextValidator(multi_line=True)


def check_field(field: str, value, validator: TextValidator = one_line) -> None:
    """For a service, whichever door the value came in by: ValidationError naming `field` when
    `value` holds a character `validator` refuses."""
    try:
        validator(value)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


class NameInput(forms.CharField):
    """A name's form field: the name is turned to NFC before its length and validators are
    checked (NFC may lengthen a few rare characters, which must not overflow the column)."""

    def to_python(self, value):
        value = super().to_python(value)
        return nfc(value) if isinstance(value, str) else value


class NameField(models.CharField):
    """A person's or clinic's name: one line, stored in Unicode NFC (a name typed as "e" plus a
    combining accent and one typed as "é" are then the same letters)."""

    default_validators = [one_line]

    def to_python(self, value):
        value = super().to_python(value)
        return nfc(value) if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = nfc(value)
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": NameInput, **kwargs})


# Zero-width characters, removed before an MRN is compared: they are refused in new input, and
# an old row or a search pasted from elsewhere may still hold one.
_REMOVED_FROM_KEY = {code: None for code in _codes(ZERO_WIDTH)}

# NFKC may lengthen a character (U+FDFA becomes 18 letters): the key's column is sized for an
# MRN of 40 characters at about four times that, and a longer key is refused, not cut.
MRN_KEY_MAX_LENGTH = 160


def mrn_key(mrn: str) -> str:
    """The value two MRNs are compared by: zero-width characters removed, NFKC, case-folded,
    trimmed. "MRN-1", "mrn-1", "ＭＲＮ-1" (fullwidth) and "MRN-1" with a zero-width space all
    name the same patient."""
    value = unicodedata.normalize("NFKC", str(mrn).translate(_REMOVED_FROM_KEY))
    # Case-folding can produce text NFKC would change again (e.g. "ǰ"): normalise once more.
    return unicodedata.normalize("NFKC", value.casefold()).strip()
