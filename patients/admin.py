from django.contrib import admin

from clinic.admin import ClinicScopedAdmin, ReadOnlyClinicalAdmin

from .models import Patient, PregnancyTest
from .records import RECORD_TYPES, of_app


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    list_display = list(RECORD_TYPES["patient"].admin_columns)
    search_fields = ["family_name", "given_name", "mrn", "ipledge_id"]
    list_filter = ["risk_category"]

    def has_add_permission(self, request):
        return False  # enrollment runs through monitoring.enrollment.enroll_patient

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PregnancyTest)
class PregnancyTestAdmin(ReadOnlyClinicalAdmin):
    list_display = list(RECORD_TYPES["tests"].admin_columns)
    # The evidence is kept in the database storage, which serves no URL (docs/storage.md): the
    # page says whether it is kept, never links to it.
    exclude = ["evidence"]
    readonly_fields = ["evidence_kept"]

    @admin.display(description="evidence")
    def evidence_kept(self, test: PregnancyTest) -> str:
        return f"kept ({test.evidence.size:,} bytes)" if test.evidence else "none"


# The other record types of this app, read-only with the registry's columns.
for record_type in of_app("patients"):
    if not admin.site.is_registered(record_type.model):
        admin.site.register(
            record_type.model, ReadOnlyClinicalAdmin, list_display=list(record_type.admin_columns)
        )
