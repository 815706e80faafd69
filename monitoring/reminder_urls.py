from django.urls import path

from . import reminder_views

app_name = "reminders"

urlpatterns = [
    path("", reminder_views.reminder_list, name="list"),
    path("patients/<int:pk>/", reminder_views.patient_reminders, name="patient"),
    path("<int:pk>/retry/", reminder_views.reminder_retry, name="retry"),
]
