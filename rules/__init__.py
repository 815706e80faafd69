"""The iPLEDGE rules: pure Python, no ORM, no settings, no clock.

Every reader (the prescription gate, the patient page, the dashboard, the API, the reminder
planner) builds a `History` snapshot and asks these functions about a date; none re-derives a rule.
"""

from .constants import (
    BLOCKER_CODES,
    DUE_CODES,
    ENTER_IN_IPLEDGE,
    ONE_MONTH_DAYS,
    RECORD_PICKUP,
    TASK_DUE_CODES,
    TRIAGE_GROUPS,
    TRIAGE_LISTED_GROUPS,
    WRITE_PRESCRIPTION,
)
from .contraception import (
    contraception_is_valid,
    contraception_shortfall,
    contraception_warnings,
)
from .cycle import cycle_start, is_first_prescription
from .dose import cumulative, dose_series, target_error, validate_prescription
from .gate import awaiting_mood_review, evaluate, standing_blockers
from .results import Blocker, Cumulative, Due, Status, Triage, Warning, Window
from .rulesets import (
    RS_2021,
    RS_2021_IN_FORCE_FROM,
    RS_2026,
    BeforeFirstRuleSet,
    RuleSet,
    rule_set_for,
)
from .schedule import due, new_course_earliest, pickup_deadline, window
from .snapshot import (
    Consent,
    ContraceptionConfirmation,
    History,
    LabResult,
    PregnancyTest,
    Prescription,
    RiskCategoryChange,
    RuleSettings,
    Visit,
    as_of,
    category_on,
)
from .status import status
from .triage import triage

__all__ = [
    "BLOCKER_CODES",
    "DUE_CODES",
    "ENTER_IN_IPLEDGE",
    "ONE_MONTH_DAYS",
    "RECORD_PICKUP",
    "TASK_DUE_CODES",
    "TRIAGE_GROUPS",
    "TRIAGE_LISTED_GROUPS",
    "WRITE_PRESCRIPTION",
    "Triage",
    "RS_2021",
    "RS_2021_IN_FORCE_FROM",
    "RS_2026",
    "BeforeFirstRuleSet",
    "Blocker",
    "Consent",
    "ContraceptionConfirmation",
    "Cumulative",
    "Due",
    "History",
    "LabResult",
    "PregnancyTest",
    "Prescription",
    "RiskCategoryChange",
    "RuleSet",
    "RuleSettings",
    "Status",
    "Visit",
    "Warning",
    "Window",
    "as_of",
    "category_on",
    "awaiting_mood_review",
    "contraception_is_valid",
    "contraception_shortfall",
    "contraception_warnings",
    "cumulative",
    "cycle_start",
    "dose_series",
    "due",
    "evaluate",
    "is_first_prescription",
    "new_course_earliest",
    "pickup_deadline",
    "rule_set_for",
    "standing_blockers",
    "status",
    "target_error",
    "triage",
    "validate_prescription",
    "window",
]
