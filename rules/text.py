"""Small helpers for sentences a receptionist understands."""

from datetime import date


def day(value: date) -> str:
    """Nov 3, 2026: the clinic's DATE_FORMAT (clinic/formats/en/formats.py), written here
    without Django because the rules engine is pure; tests/clinic/test_dates.py keeps the two
    the same."""
    return f"{value:%b} {value.day}, {value.year}"


def us_date(value: date) -> str:
    """12/05/2026: iPLEDGE's website takes dates as MM/DD/YYYY whatever the language of the page
    that shows them (the iPLEDGE entry sheet, docs/ipledge-sheet.md)."""
    return f"{value:%m/%d/%Y}"


def listing(words: list[str] | tuple[str, ...]) -> str:
    """a, b and c"""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def gettext_noop(message: str) -> str:
    """Marks an English string for translation without translating it, as Django's own
    gettext_noop does (the rules cannot import Django): makemessages collects it into locale/,
    and the page that shows it to a patient translates it there (monitoring/self_service.py)."""
    return message


def label(code: str) -> str:
    """birth_defects -> birth defects"""
    return code.replace("_", " ")
