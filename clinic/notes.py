"""Notes and reasons: their length limits, the words for a text past one, and the form field
that says its limit and counts down (docs/domain.md section 4: never cut silently).

A browser cuts a pasted text to a textarea's `maxlength` without a word (10,000 characters of
notes became 4,000), so the field carries its limit as `data-limit` instead: the page says it
("Up to 4,000 characters"), clinic/static/clinic/charcount.js counts down and past it, and a
longer text is a form error next to the field, the text kept for shortening. The services check
the same limits, so the API and every other door refuse it too.
"""

from django import forms
from django.core.exceptions import ValidationError

NOTE_MAX_LENGTH = 4000  # a visit's notes, a mood review's note
REASON_MAX_LENGTH = 300  # the reason for a risk category change or a superseded test


def too_long(limit: int, length: int | None = None) -> str:
    told = f": this has {length:,}" if length is not None else ""
    return f"At most {limit:,} characters{told}. Nothing was cut: shorten it and save again."


def check_length(field: str, value: str | None, limit: int) -> None:
    """Refuse a text longer than `limit`, naming the field (a service's check)."""
    if value and len(value) > limit:
        raise ValidationError({field: too_long(limit, len(value))})


class LimitedText(forms.CharField):
    """A note or reason: a textarea that says its limit and counts down, and refuses (never
    cuts) a longer text."""

    def __init__(self, *, limit: int, rows: int = 3, help_text: str = "", **kwargs):
        self.limit = limit
        said = f"Up to {limit:,} characters."
        super().__init__(
            widget=forms.Textarea(attrs={"rows": rows}),
            help_text=f"{help_text} {said}".strip(),
            **kwargs,
        )
        # Checked here rather than by CharField's max_length, which would also put the
        # maxlength attribute (the silent cut) on the textarea.
        self.validators.append(self._check)

    def to_python(self, value):
        # A browser sends each line break as CR LF but counts it as one character: counted as
        # the page counts it, a note the page said fits is not refused for its line breaks.
        value = super().to_python(value)
        return value.replace("\r\n", "\n")

    def _check(self, value: str) -> None:
        if len(value) > self.limit:
            raise ValidationError(too_long(self.limit, len(value)), code="max_length")

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "data-limit": str(self.limit)}
