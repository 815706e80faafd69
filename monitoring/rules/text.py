"""Small helpers for sentences a receptionist understands."""

from datetime import date


def day(value: date) -> str:
    """3 Nov 2026"""
    return f"{value.day} {value:%b %Y}"


def listing(words: list[str] | tuple[str, ...]) -> str:
    """a, b and c"""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def label(code: str) -> str:
    """birth_defects -> birth defects"""
    return code.replace("_", " ")
