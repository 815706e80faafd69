from django.contrib import admin

from clinic.admin import ClinicScopedAdmin, ReadOnlyClinicalAdmin
from patients.records import of_app

from .models import Reminder, StaffDigest

# The record types of this app (patients/records.py), then the reminders: read-only lists.
for model, columns in (
    *((t.model, t.admin_columns) for t in of_app("monitoring")),
    (Reminder, ("patient", "kind", "due_on", "send_at", "status", "attempts")),
):
    admin.site.register(model, ReadOnlyClinicalAdmin, list_display=list(columns))


@admin.register(StaffDigest)
class StaffDigestAdmin(ClinicScopedAdmin):
    list_display = ["clinic", "sent_on", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
