"""Django's `|date` filter, with plain dates kept once written (clinic/dates.py).

config/settings.py adds this library to every template as a builtin, after Django's own, so
`{{ visit.visited_on|date:"SHORT_DATE_FORMAT" }}` reads as usual and writes the same text; a
page of records no longer pays Django's formatter for each of its dates. Anything but a plain
date (a datetime, a string, None) goes to Django's filter unchanged.
"""

import datetime

from django import template
from django.template import defaultfilters

from clinic import dates

register = template.Library()


@register.filter(expects_localtime=True, is_safe=False)
def date(value, arg=None):
    if type(value) is datetime.date:
        return dates.formatted(value, arg or "DATE_FORMAT")
    return defaultfilters.date(value, arg)
