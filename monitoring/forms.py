from django import forms

from patients.forms import CrispyMixin

from .models import LAB_UNITS, LabKind, Prescription, Visit


class LabForm(CrispyMixin, forms.Form):
    submit_label = "Record lab"
    kind = forms.ChoiceField(choices=LabKind.choices)
    collected_on = forms.DateField()
    value = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    unit = forms.CharField(
        max_length=16, required=False, help_text="Leave empty for the usual unit."
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") and not cleaned.get("unit"):
            cleaned["unit"] = LAB_UNITS[LabKind(cleaned["kind"])]
        return cleaned


class VisitForm(CrispyMixin, forms.ModelForm):
    submit_label = "Record visit"

    class Meta:
        model = Visit
        fields = [
            "visited_on", "weight_kg", "counseling_confirmed", "comprehension_completed", "phq2",
            "phq9", "phq9_item9", "missed_dose_days", "next_visit_on", "notes",
        ]

    def __init__(self, *args, may_confirm_counseling: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_confirm_counseling:
            del self.fields["counseling_confirmed"]

    def clean(self):
        cleaned = super().clean()
        phq2 = cleaned.get("phq2")
        if phq2 is not None and phq2 >= 3 and cleaned.get("phq9") is None:
            self.add_error("phq9", "PHQ-2 is 3 or more: record the PHQ-9.")
        if cleaned.get("phq9") is not None and cleaned.get("phq9_item9") is None:
            self.add_error("phq9_item9", "Record item 9 of the PHQ-9.")
        return cleaned


class MoodReviewForm(CrispyMixin, forms.Form):
    submit_label = "Record mood review"
    reviewed_on = forms.DateField()
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class PrescriptionForm(CrispyMixin, forms.ModelForm):
    submit_label = "Write prescription"

    class Meta:
        model = Prescription
        fields = ["written_on", "daily_dose_mg", "days_supply"]
        labels = {"daily_dose_mg": "Daily dose (mg)", "days_supply": "Days' supply (1-30)"}


class DispenseForm(CrispyMixin, forms.Form):
    submit_label = "Record dispense"
    dispensed_on = forms.DateField()
    rma_number = forms.CharField(label="RMA number", max_length=40)


class EndTreatmentForm(CrispyMixin, forms.Form):
    submit_label = "End treatment"
    last_dose_on = forms.DateField(label="Last dose date")
