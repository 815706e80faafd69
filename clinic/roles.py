"""What each role may do: one small pure function, checked role by role in tests.

Clinicians may do everything staff may, plus the clinical acts (docs/domain.md section 8: staff may
not write prescriptions, confirm counseling, review mood or supersede a test; changing the risk
category and allowing home tests are the prescriber's decisions too). Clinic admins manage
users, settings and read the audit log, and may look at patients but not change clinical
records.
"""

from enum import StrEnum

from django.db.models import TextChoices


class Role(TextChoices):
    CLINICIAN = "clinician", "Clinician"
    STAFF = "staff", "Staff"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"


class Action(StrEnum):
    VIEW_PATIENTS = "view_patients"
    ENROLL_PATIENT = "enroll_patient"
    EDIT_PATIENT = "edit_patient"
    RECORD_CHECKS = "record_checks"  # tests, contraception, consents, labs, dispensing
    RECORD_VISIT = "record_visit"
    CHANGE_RISK_CATEGORY = "change_risk_category"
    CONFIRM_COUNSELING = "confirm_counseling"
    WRITE_PRESCRIPTION = "write_prescription"
    REVIEW_MOOD = "review_mood"
    SUPERSEDE_TEST = "supersede_test"
    END_TREATMENT = "end_treatment"
    ALLOW_HOME_TESTS = "allow_home_tests"  # the prescriber allows verified home tests
    MANAGE_REMINDERS = "manage_reminders"
    READ_AUDIT_LOG = "read_audit_log"
    MANAGE_CLINIC = "manage_clinic"


_STAFF = frozenset(
    {
        Action.VIEW_PATIENTS,
        Action.ENROLL_PATIENT,
        Action.EDIT_PATIENT,
        Action.RECORD_CHECKS,
        Action.RECORD_VISIT,
        Action.END_TREATMENT,
        Action.MANAGE_REMINDERS,
    }
)
_CLINICIAN = _STAFF | {
    Action.CHANGE_RISK_CATEGORY,
    Action.CONFIRM_COUNSELING,
    Action.WRITE_PRESCRIPTION,
    Action.REVIEW_MOOD,
    Action.SUPERSEDE_TEST,
    Action.ALLOW_HOME_TESTS,
}
_CLINIC_ADMIN = frozenset(
    {Action.VIEW_PATIENTS, Action.MANAGE_REMINDERS, Action.READ_AUDIT_LOG, Action.MANAGE_CLINIC}
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.STAFF: _STAFF,
    Role.CLINICIAN: _CLINICIAN,
    Role.CLINIC_ADMIN: _CLINIC_ADMIN,
}


def role_may(role: str | None, action: Action) -> bool:
    """True when a member with this role may perform the action. No role may do nothing."""
    if role is None:
        return False
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False
