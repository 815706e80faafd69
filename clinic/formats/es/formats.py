"""Spanish (patients' emails and page): Django's own "es" formats ("5 de diciembre de 2026"),
plus the clinic's names that Django does not have."""

WEEKDAY_DATE_FORMAT = r"D j \d\e M \d\e Y"  # sáb 5 de dic de 2026
WEEKDAY_MONTH_DAY_FORMAT = r"D j \d\e M"  # sáb 5 de dic
LONG_DATE_FORMAT = r"l j \d\e F \d\e Y"  # sábado 5 de diciembre de 2026
