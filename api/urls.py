"""API v1 routes, exactly the table of docs/domain.md section 8 plus the token and the schema."""

from django.urls import path

from . import auth, fhir, views, worklist

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.Token.as_view(), name="token"),
    path("schema/", views.Schema.as_view(), name="schema"),
    path("patients/", views.PatientCreate.as_view(), name="patient_create"),
    path("patients/<int:id>/", views.PatientDetail.as_view(), name="patient"),
    path("patients/<int:id>/consents/", views.Consents.as_view(), name="consents"),
    path(
        "patients/<int:id>/contraception/",
        views.Contraception.as_view(),
        name="contraception",
    ),
    path(
        "patients/<int:id>/pregnancy-tests/",
        views.PregnancyTests.as_view(),
        name="pregnancy_tests",
    ),
    path("patients/<int:id>/labs/", views.Labs.as_view(), name="labs"),
    path("patients/<int:id>/visits/", views.Visits.as_view(), name="visits"),
    path("patients/<int:id>/status/", views.PatientStatus.as_view(), name="status"),
    path(
        "patients/<int:id>/prescriptions/",
        views.Prescriptions.as_view(),
        name="prescriptions",
    ),
    path(
        "patients/<int:id>/risk-category/",
        views.RiskCategoryChangeCreate.as_view(),
        name="risk_category",
    ),
    path("patients/<int:id>/courses/", views.CourseCreate.as_view(), name="courses"),
    path("patients/<int:id>/end-treatment/", views.EndTreatment.as_view(), name="end_treatment"),
    path("patients/<int:id>/reminders/", views.ReminderList.as_view(), name="reminders"),
    path("patients/<int:id>/fhir/", fhir.PatientFHIR.as_view(), name="patient_fhir"),
    path("prescriptions/<int:id>/dispense/", views.Dispense.as_view(), name="dispense"),
    path("visits/<int:id>/mood-review/", views.MoodReviewCreate.as_view(), name="mood_review"),
    path("pregnancy-tests/<int:id>/supersede/", views.Supersede.as_view(), name="supersede"),
    path("worklist/", worklist.Worklist.as_view(), name="worklist"),
]
