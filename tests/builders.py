"""The tests' patients in a state: the demo's builder and states (demo/states.py), one
module for both, so the states the demo shows are the states the tests check.

`build(state)` (tests/monitoring/conftest.py) enrolls the plain person (Alex Example) and puts
the patient in `state`, any function of a Builder and a patient.
"""

from demo.states import *  # noqa: F403  # the tests' names for the demo's builder
from demo.states import HOME_READOUT as PNG  # noqa: F401  # a home test's "photo"
