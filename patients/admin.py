from django.contrib import admin

from clinic.core.admin import ClinicScopedAdmin, ReadOnlyClinicalAdmin

from .models import Consent, ContraceptionConfirmation, Patient, PregnancyTest, RiskCategoryChange


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    list_display = ["family_name", "given_name", "mrn", "clinic", "risk_category", "enrolled_on"]
    search_fields = ["family_name", "given_name", "mrn", "ipledge_id"]
    list_filter = ["risk_category"]

    def has_add_permission(self, request):
        return False  # enrollment runs through monitoring.enrollment.enroll_patient

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model, columns in (
    (RiskCategoryChange, ["patient", "previous", "new", "changed_on"]),
    (Consent, ["patient", "kind", "signed_on"]),
    (ContraceptionConfirmation, ["patient", "confirmed_on", "source", "abstinence"]),
):
    admin.site.register(
        model, type(f"{model.__name__}Admin", (ReadOnlyClinicalAdmin,), {"list_display": columns})
    )


@admin.register(PregnancyTest)
class PregnancyTestAdmin(ReadOnlyClinicalAdmin):
    list_display = ["patient", "kind", "collected_on", "result", "setting"]
    # The evidence is kept in the database storage, which serves no URL (docs/storage.md): the
    # page says whether it is kept, never links to it.
    exclude = ["evidence"]
    readonly_fields = ["evidence_kept"]

    @admin.display(description="evidence")
    def evidence_kept(self, test: PregnancyTest) -> str:
        return f"kept ({test.evidence.size:,} bytes)" if test.evidence else "none"
