"""`as_of` keeps the cuts it made of a snapshot (docs/rules.md): asking again gives the same cut,
a cut asked at its own date is itself, and every kept cut equals one made from scratch."""

import copy
import gc
import weakref
from datetime import date, timedelta

from rules import as_of
from tests.rules.builders import treating_can_get_pregnant

ON = date(2026, 6, 15)


def test_a_cut_is_kept_and_equals_a_fresh_one_on_every_date():
    history = treating_can_get_pregnant(ON)
    for offset in range(-60, 5, 7):
        day = ON + timedelta(days=offset)
        cut = as_of(history, day)
        assert as_of(history, day) is cut
        assert as_of(cut, day) is cut
        assert cut == as_of(copy.deepcopy(treating_can_get_pregnant(ON)), day)
    later = as_of(history, ON)
    earlier = as_of(later, ON - timedelta(days=30))
    assert earlier == as_of(history, ON - timedelta(days=30))


def test_a_cut_does_not_keep_itself_alive():
    history = treating_can_get_pregnant(ON)
    gc.disable()  # batch work pauses the collector: a cut must go without it
    try:
        gone = weakref.ref(as_of(treating_can_get_pregnant(ON), ON))
        assert gone() is None
    finally:
        gc.enable()
    assert as_of(history, ON).visits
