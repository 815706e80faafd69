from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("patients/<int:pk>/labs/new/", views.lab_create, name="lab_create"),
    path("patients/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("patients/<int:pk>/prescriptions/new/", views.prescription_create,
         name="prescription_create"),
    path("patients/<int:pk>/end-treatment/", views.end_treatment, name="end_treatment"),
    path("visits/<int:visit_pk>/mood-review/", views.mood_review_create, name="mood_review"),
    path("prescriptions/<int:prescription_pk>/dispense/", views.dispense, name="dispense"),
]
