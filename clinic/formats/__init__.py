"""How the clinic writes dates and times, per language (settings.FORMAT_MODULE_PATH points here).

English is the US clinic's: "Dec 5, 2026" in text, 12/05/2026 in tables, inputs and the CSV,
"9:00 AM" for times. Spanish keeps Django's own formats ("5 de diciembre de 2026") and adds the
two names below. Templates use only these names (`{{ day|date }}`,
`{{ day|date:"SHORT_DATE_FORMAT" }}`); Python code uses clinic/dates.py. A test greps the
templates for any other format (tests/clinic/test_dates.py).
"""
