import pytest

from clinic.roles import Action, role_may

STAFF_MAY = {
    Action.VIEW_PATIENTS,
    Action.ENROLL_PATIENT,
    Action.EDIT_PATIENT,
    Action.RECORD_CHECKS,
    Action.RECORD_VISIT,
    Action.END_TREATMENT,
    Action.MANAGE_REMINDERS,
}
CLINICIAN_ONLY = {
    Action.CHANGE_RISK_CATEGORY,
    Action.CONFIRM_COUNSELING,
    Action.WRITE_PRESCRIPTION,
    Action.REVIEW_MOOD,
    Action.SUPERSEDE_TEST,
    Action.ALLOW_HOME_TESTS,
}
ADMIN_MAY = {
    Action.VIEW_PATIENTS,
    Action.MANAGE_REMINDERS,
    Action.READ_AUDIT_LOG,
    Action.MANAGE_CLINIC,
}


@pytest.mark.parametrize("action", list(Action))
def test_staff_may_do_exactly_the_pre_prescription_work(action):
    assert role_may("staff", action) is (action in STAFF_MAY)


@pytest.mark.parametrize("action", list(Action))
def test_clinicians_may_do_all_staff_may_plus_the_clinical_acts(action):
    assert role_may("clinician", action) is (action in STAFF_MAY | CLINICIAN_ONLY)


@pytest.mark.parametrize("action", list(Action))
def test_clinic_admins_manage_and_audit_but_do_not_write_clinical_records(action):
    assert role_may("clinic_admin", action) is (action in ADMIN_MAY)


@pytest.mark.parametrize("role", [None, "", "pharmacist", "CLINICIAN"])
@pytest.mark.parametrize("action", list(Action))
def test_no_role_or_an_unknown_role_may_do_nothing(role, action):
    assert role_may(role, action) is False
