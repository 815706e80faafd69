from django.urls import path

from . import views

# The list, the page, enrollment and edits are in monitoring.patient_views; config/urls.py
# serves both lists under the one `patients` namespace.
app_name = "patients"

urlpatterns = [
    path("<int:pk>/risk-category/", views.risk_category_change, name="risk_category"),
    path("<int:pk>/consents/new/", views.consent_create, name="consent_create"),
    path("<int:pk>/contraception/new/", views.contraception_create, name="contraception_create"),
    path("<int:pk>/pregnancy-tests/new/", views.pregnancy_test_create, name="test_create"),
    path(
        "pregnancy-tests/<int:test_pk>/evidence/",
        views.pregnancy_test_evidence,
        name="test_evidence",
    ),
    path(
        "pregnancy-tests/<int:test_pk>/supersede/",
        views.pregnancy_test_supersede,
        name="test_supersede",
    ),
]
