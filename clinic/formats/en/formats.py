"""US clinic conventions (docs/architecture.md, "Dates and times"). Django's own "en" formats are
the fallback for any name not set here."""

DATE_FORMAT = "M j, Y"  # Dec 5, 2026
SHORT_DATE_FORMAT = "m/d/Y"  # 12/05/2026
MONTH_DAY_FORMAT = "M j"  # Dec 5
YEAR_MONTH_FORMAT = "F Y"  # December 2026
TIME_FORMAT = "g:i A"  # 9:00 AM
DATETIME_FORMAT = "M j, Y, g:i A"  # Dec 5, 2026, 9:00 AM
SHORT_DATETIME_FORMAT = "m/d/Y g:i A"  # 12/05/2026 9:00 AM
# Three names of the clinic's own: a due date whose weekday matters (with or without its
# year), and a day in full.
WEEKDAY_DATE_FORMAT = "D, M j, Y"  # Sat, Dec 5, 2026
WEEKDAY_MONTH_DAY_FORMAT = "D, M j"  # Sat, Dec 5 (Today's rows: the year goes without saying)
LONG_DATE_FORMAT = "l, F j, Y"  # Saturday, December 5, 2026

# Typed dates: MM/DD/YYYY first; ISO (what <input type="date"> sends) is always accepted too.
DATE_INPUT_FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y"]
DATETIME_INPUT_FORMATS = [
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
]
FIRST_DAY_OF_WEEK = 0  # Sunday
