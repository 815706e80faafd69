from django.urls import path

from . import fhir_views, views

app_name = "monitoring"

urlpatterns = [
    path("today/", views.worklist_page, name="worklist"),
    path("patients/<int:pk>/labs/new/", views.lab_create, name="lab_create"),
    path("patients/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path(
        "patients/<int:pk>/prescriptions/new/",
        views.prescription_create,
        name="prescription_create",
    ),
    path("patients/<int:pk>/end-treatment/", views.end_treatment, name="end_treatment"),
    path("patients/<int:pk>/courses/new/", views.course_create, name="course_create"),
    path("patients/<int:pk>/dispense/", views.dispense_pending, name="dispense_pending"),
    path("patients/<int:pk>/ipledge/", views.ipledge_sheet, name="ipledge_sheet"),
    path("patients/<int:pk>/fhir/", fhir_views.patient_fhir, name="patient_fhir"),
    path("visits/<int:visit_pk>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:visit_pk>/print/", views.visit_print, name="visit_print"),
    path("visits/<int:visit_pk>/mood-review/", views.mood_review_create, name="mood_review"),
    path("prescriptions/<int:prescription_pk>/dispense/", views.dispense, name="dispense"),
]
