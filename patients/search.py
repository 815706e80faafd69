"""Finding a patient the way pages show them (docs/clinic-day.md, "Finding a patient").

One box takes what a receptionist has in front of them: "Ashdown, Reese" as the list shows it,
"Reese Ashdown" as the patient says it, part of either, an MRN, an iPLEDGE ID, or a date of
birth typed as 05/17/2001, 5/17/2001 or 2001-05-17. Case and accents do not matter ("jose"
finds "José").

Each patient keeps a `search_key` (written on every save by `SearchKeyField`): its parts
case-folded and accent-stripped, each between bars, `|reese ashdown|ashdown reese|mrn-1|
1234567890|2001-05-17|`. A search is then one `LIKE '%…%'` on that one column (a trigram index
serves it on PostgreSQL, patients/migrations/0006_patient_search_key_trigram.py): one query,
whatever the clinic's size. A term never holds a bar, so a name cannot match across two parts;
a date of birth or an MRN is matched between its bars, so as a whole.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from clinic.text import mrn_key

SEPARATOR = "|"
# "Ashdown, Reese" is "ashdown reese": the comma the list writes between the names is a space.
_SPACES = re.compile(r"[\s,;]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "`": "'", SEPARATOR: " "})

# A date of birth as US clinics type it (month first), or ISO; anything else is text.
_US_DATE = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def fold(text: str) -> str:
    """Case-folded, accents stripped, spaces collapsed: "  José  Muñoz, " -> "jose munoz"."""
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_APOSTROPHES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.casefold()).strip()


def mrn_form(mrn: str) -> str:
    """An MRN as two are compared: the clinic's MRN key (clinic.text.mrn_key: case, width,
    surrounding spaces and zero-width characters aside), kept in the search key for a match on
    part of an MRN."""
    return mrn_key(str(mrn)).replace(SEPARATOR, " ")


def key_for(*, given_name: str, family_name: str, mrn: str, ipledge_id: str, birth_date) -> str:
    """The patient's search key (see the module's docstring)."""
    given, family = fold(given_name), fold(family_name)
    parts = [f"{given} {family}", f"{family} {given}", mrn_form(mrn), fold(ipledge_id)]
    if birth_date:
        # str() of a date is its ISO form; a string set before saving (Django's DateField takes
        # "2001-05-17" too) is kept as given rather than failing the save.
        parts.append(str(birth_date))
    return SEPARATOR + SEPARATOR.join(p for p in parts if p) + SEPARATOR


def birth_date_in(term: str) -> datetime.date | None:
    """The date of birth `term` gives, or None when it is not shaped like a date.

    Raises ValidationError for a date-shaped term that is no date (02/30/2001, or a day typed
    first: 17/05/2001), so the receptionist learns why nothing matched."""
    term = term.strip()
    if found := _US_DATE.fullmatch(term):
        month, day, year = (int(x) for x in found.groups())
    elif found := _ISO_DATE.fullmatch(term):
        year, month, day = (int(x) for x in found.groups())
    else:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValidationError(
            f"{term} is not a date: type a date of birth as MM/DD/YYYY (month first)."
        ) from None


def _mrn_match(term: str) -> Q:
    # A whole MRN is found by its key, which is unique in the clinic and indexed.
    return Q(mrn_key=mrn_key(term))


def matching(patients: QuerySet, term: str) -> QuerySet:
    """The patients of `patients` that `term` finds: by date of birth when it is a date, else
    by part of a name (either order), part of an MRN or iPLEDGE ID, or a whole MRN."""
    born = birth_date_in(term)
    if born is not None:
        return patients.filter(search_key__contains=f"{SEPARATOR}{born.isoformat()}{SEPARATOR}")
    text = fold(term)
    if not text:
        return patients
    return patients.filter(Q(search_key__contains=text) | _mrn_match(term))
