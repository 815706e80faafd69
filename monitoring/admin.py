from django.contrib import admin

from clinic.core.admin import ClinicScopedAdmin, ReadOnlyClinicalAdmin

from .models import (
    ComprehensionReport,
    Course,
    LabResult,
    MoodReview,
    Prescription,
    Reminder,
    StaffDigest,
    Visit,
)

for model, columns in (
    (Course, ["patient", "opened_on", "target_mg_per_kg", "last_dose_on"]),
    (LabResult, ["patient", "kind", "collected_on", "value", "unit"]),
    (Visit, ["patient", "visited_on", "phq2", "phq9", "counseling_confirmed"]),
    (MoodReview, ["patient", "visit", "reviewed_on"]),
    (Prescription, ["patient", "written_on", "daily_dose_mg", "days_supply", "dispensed_on"]),
    (ComprehensionReport, ["patient", "reported_on"]),
    (Reminder, ["patient", "kind", "due_on", "send_at", "status", "attempts"]),
):
    admin.site.register(
        model, type(f"{model.__name__}Admin", (ReadOnlyClinicalAdmin,), {"list_display": columns})
    )


@admin.register(StaffDigest)
class StaffDigestAdmin(ClinicScopedAdmin):
    list_display = ["clinic", "sent_on", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
