"""Named numbers and codes of the iPLEDGE rules (docs/domain.md sections 2-6).

Every day count the rules use lives here, so a reader can check it against the program documents
in one place and a changed rule is a one-line change.
"""

from decimal import Decimal

from .contraception_methods import PRIMARY, SECONDARY, UNACCEPTABLE, methods_of

# "One month" is 30 days everywhere in the rules.
ONE_MONTH_DAYS = 30

# A pick-up window runs from the specimen collection date (SCD) through SCD + 6: seven days.
WINDOW_DAYS = 7

# A cycle reaches back at most to written_on - 29: thirty days including the day itself.
CYCLE_MAX_DAYS = ONE_MONTH_DAYS

# RS-2021: after a missed first window the next confirmation test may be collected at SCD + 19.
LOCKOUT_DAYS = 19

# The confirmation test is collected at least 19 days after the screening test and at least one
# month after the current contraception methods began.
CONFIRMATION_AFTER_SCREENING_DAYS = 19
CONFIRMATION_AFTER_CONTRACEPTION_DAYS = ONE_MONTH_DAYS

# Baseline labs count when collected in [D - 30, D].
BASELINE_LABS_LOOKBACK_DAYS = ONE_MONTH_DAYS

# Due dates (section 6).
DUE_BEFORE_SUPPLY_END_DAYS = 2
FOLLOWUP_LABS_DONE_AFTER_DAYS = 28
AFTER_TREATMENT_DAYS = ONE_MONTH_DAYS
RETREATMENT_GAP_DAYS = 56

# The cumulative dose target a course may have, mg/kg (section 4), and the clinic default.
MIN_TARGET_MG_PER_KG = 50
MAX_TARGET_MG_PER_KG = 300
DEFAULT_TARGET_MG_PER_KG = 120
TARGET_RANGE_MESSAGE = (
    f"The dose target must be {MIN_TARGET_MG_PER_KG} to {MAX_TARGET_MG_PER_KG} mg/kg."
)

# Prescription input limits (section 4).
MIN_DAYS_SUPPLY = 1
MAX_DAYS_SUPPLY = 30
MAX_MG_PER_KG_PER_DAY = Decimal(2)

# A PHQ-2 at or above this asks for a PHQ-9 (section 4).
PHQ2_NEEDS_PHQ9 = 3

# Risk categories.
CAN_GET_PREGNANT = "can_get_pregnant"
CANNOT_GET_PREGNANT = "cannot_get_pregnant"

# Consents.
PATIENT_INFORMATION = "patient_information"
BIRTH_DEFECTS = "birth_defects"
REQUIRED_CONSENTS = {
    CAN_GET_PREGNANT: (PATIENT_INFORMATION, BIRTH_DEFECTS),
    CANNOT_GET_PREGNANT: (PATIENT_INFORMATION,),
}

# Contraception methods: the tiers of the registry (contraception_methods.py).
PRIMARY_METHODS = methods_of(PRIMARY)
SECONDARY_METHODS = methods_of(SECONDARY)
# May be recorded, never counts, and the UI warns.
UNACCEPTABLE_METHODS = methods_of(UNACCEPTABLE)
ACCEPTABLE_METHODS = PRIMARY_METHODS | SECONDARY_METHODS
KNOWN_METHODS = ACCEPTABLE_METHODS | UNACCEPTABLE_METHODS
MIN_ACCEPTABLE_METHODS = 2
# What a confirmation lacks to count (contraception_shortfall): one answer for the staff form,
# the patient's page and the gate, each wording it for its reader.
NO_METHOD_COUNTS = "no_method_counts"
ONE_METHOD_COUNTS = "one_method_counts"
NO_PRIMARY_METHOD = "no_primary_method"
CONTRACEPTION_SHORTFALLS = (NO_METHOD_COUNTS, ONE_METHOD_COUNTS, NO_PRIMARY_METHOD)
STAFF = "staff"
PATIENT = "patient"

# Pregnancy tests.
SCREENING = "screening"
CONFIRMATION = "confirmation"
MONTHLY = "monthly"
END_OF_TREATMENT = "end_of_treatment"
POST_TREATMENT = "post_treatment"
NEGATIVE = "negative"
POSITIVE = "positive"
INVALID = "invalid"
MEDICAL = "medical"
HOME = "home"

# Blocker codes in the stable order the gate reports them (section 5).
CONSENT_MISSING = "consent_missing"
BASELINE_LABS_MISSING = "baseline_labs_missing"
VISIT_MISSING = "visit_missing"
COUNSELING_UNCONFIRMED = "counseling_unconfirmed"
MOOD_SCREEN_INCOMPLETE = "mood_screen_incomplete"
MOOD_REVIEW_REQUIRED = "mood_review_required"
PREGNANCY_TEST_POSITIVE = "pregnancy_test_positive"
COURSE_ENDED = "course_ended"
SCREENING_TEST_MISSING = "screening_test_missing"
CONFIRMATION_TEST_MISSING = "confirmation_test_missing"
CONFIRMATION_TEST_TOO_EARLY = "confirmation_test_too_early"
PREGNANCY_TEST_MISSING = "pregnancy_test_missing"
TEST_SETTING_NOT_ALLOWED = "test_setting_not_allowed"
LOCKOUT_ACTIVE = "lockout_active"
CONTRACEPTION_UNCONFIRMED = "contraception_unconfirmed"
CONTRACEPTION_MISMATCH = "contraception_mismatch"
COMPREHENSION_INCOMPLETE = "comprehension_incomplete"
BLOCKER_CODES = (
    CONSENT_MISSING,
    BASELINE_LABS_MISSING,
    VISIT_MISSING,
    COUNSELING_UNCONFIRMED,
    MOOD_SCREEN_INCOMPLETE,
    MOOD_REVIEW_REQUIRED,
    PREGNANCY_TEST_POSITIVE,
    COURSE_ENDED,
    SCREENING_TEST_MISSING,
    CONFIRMATION_TEST_MISSING,
    CONFIRMATION_TEST_TOO_EARLY,
    PREGNANCY_TEST_MISSING,
    TEST_SETTING_NOT_ALLOWED,
    LOCKOUT_ACTIVE,
    CONTRACEPTION_UNCONFIRMED,
    CONTRACEPTION_MISMATCH,
    COMPREHENSION_INCOMPLETE,
)

# Due codes in the order of section 6.
CONFIRMATION_TEST_EARLIEST = "confirmation_test_earliest"
WINDOW_CLOSES = "window_closes"
LOCKOUT_UNTIL = "lockout_until"
MONTHLY_TEST_DUE = "monthly_test_due"
VISIT_DUE = "visit_due"
FOLLOWUP_LABS_DUE = "followup_labs_due"
END_OF_TREATMENT_TEST_DUE = "end_of_treatment_test_due"
POST_TREATMENT_TEST_DUE = "post_treatment_test_due"
CONTRACEPTION_MAY_STOP = "contraception_may_stop"
BLOOD_DONATION_ALLOWED = "blood_donation_allowed"
RETREATMENT_EARLIEST = "retreatment_earliest"
DUE_CODES = (
    CONFIRMATION_TEST_EARLIEST,
    WINDOW_CLOSES,
    LOCKOUT_UNTIL,
    MONTHLY_TEST_DUE,
    VISIT_DUE,
    FOLLOWUP_LABS_DUE,
    END_OF_TREATMENT_TEST_DUE,
    POST_TREATMENT_TEST_DUE,
    CONTRACEPTION_MAY_STOP,
    BLOOD_DONATION_ALLOWED,
    RETREATMENT_EARLIEST,
)

# Warning codes.
PROGESTIN_ONLY_PILL = "progestin_only_pill"
UNKNOWN_CONTRACEPTION_METHOD = "unknown_contraception_method"
POSITIVE_TEST_SUPERSEDED = "positive_test_superseded"
INVALID_TEST_RESULT = "invalid_test_result"
CONTRACEPTION_START_UNKNOWN = "contraception_start_unknown"

# Triage groups (section 6a), in the order a patient is placed: the first that applies.
SAFETY = "safety"
TO_ENTER = "to_enter"
WINDOW_CLOSING = "window_closing"
NEEDS_PRESCRIPTION = "needs_prescription"
READY = "ready"
POST_TREATMENT_GROUP = "post_treatment"
OVERDUE = "overdue"
DUE_SOON = "due_soon"
ON_TRACK = "on_track"
INACTIVE = "inactive"
TRIAGE_GROUPS = (
    SAFETY,
    TO_ENTER,
    WINDOW_CLOSING,
    NEEDS_PRESCRIPTION,
    READY,
    POST_TREATMENT_GROUP,
    OVERDUE,
    DUE_SOON,
    ON_TRACK,
    INACTIVE,
)
# Groups that ask the clinic to act today: Today lists these and no other.
TRIAGE_LISTED_GROUPS = TRIAGE_GROUPS[:8]
# Blockers that put a patient in `safety`, whatever else is true.
SAFETY_BLOCKERS = (MOOD_REVIEW_REQUIRED, PREGNANCY_TEST_POSITIVE)
# Due items that ask the clinic to act; the other due codes are dates to tell the patient.
TASK_DUE_CODES = frozenset(
    {
        CONFIRMATION_TEST_EARLIEST,
        MONTHLY_TEST_DUE,
        VISIT_DUE,
        FOLLOWUP_LABS_DUE,
        END_OF_TREATMENT_TEST_DUE,
        POST_TREATMENT_TEST_DUE,
    }
)
# The next step of a patient the gate lets through: the prescription itself; once it is
# written and waits at the pharmacy, its pick-up.
WRITE_PRESCRIPTION = "write_prescription"
RECORD_PICKUP = "record_pickup"
# Values of this cycle wait to be typed into the iPLEDGE website (the entry sheet).
ENTER_IN_IPLEDGE = "enter_in_ipledge"
# Days Today looks ahead unless the clinic says otherwise.
DEFAULT_TRIAGE_HORIZON_DAYS = 7
# Follow-up labs fall due this many weeks after the course starts, unless the clinic says
# otherwise (its setting `followup_lab_weeks`).
DEFAULT_FOLLOWUP_LAB_WEEKS = 8
