"""Words for the engine's codes, shown to staff and patients."""

DUE_LABELS = {
    "confirmation_test_earliest": "Confirmation pregnancy test, earliest date",
    "window_closes": "Prescription window closes",
    "lockout_until": "Lockout ends",
    "monthly_test_due": "Monthly pregnancy test",
    "visit_due": "Next visit",
    "followup_labs_due": "Follow-up labs",
    "end_of_treatment_test_due": "End-of-treatment pregnancy test",
    "post_treatment_test_due": "Post-treatment pregnancy test",
    "contraception_may_stop": "Contraception may stop",
    "blood_donation_allowed": "Blood donation allowed again",
    "retreatment_earliest": "Earliest start of a new course",
}


def due_label(code: str) -> str:
    return DUE_LABELS.get(code, code.replace("_", " ").capitalize())
