from django import forms
from django.core.exceptions import ValidationError

from clinic.notes import NOTE_MAX_LENGTH, LimitedText
from clinic.text import multi_line, one_line
from patients.forms import METHOD_TIERS, CrispyMixin, WarningsMixin, date_input
from patients.models import ContraceptionMethod
from patients.services import contraception_record_warnings
from rules.constants import MAX_TARGET_MG_PER_KG, MIN_TARGET_MG_PER_KG
from rules.labs import LAB_TYPES

from .models import LabKind, Prescription, Severity, SideEffect
from .services import (
    incomplete_mood_screen,
    lab_unit,
    lab_units_words,
    rma_number_error,
    stored_rma_number,
    unusual_lab_value,
    validate_visit,
    visit_warnings,
)


class LabForm(WarningsMixin, CrispyMixin, forms.Form):
    """A lab result. A value far outside what labs report (rules/labs.py) asks to
    check it, and saves on the second submit with "save anyway" ticked, the value kept."""

    submit_label = "Record lab"
    kind = forms.ChoiceField(choices=LabKind.choices)
    collected_on = forms.DateField()
    value = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    unit = forms.ChoiceField(
        choices=[("", "The usual unit for the test")]
        + sorted({(u, u) for lab in LAB_TYPES.values() for u in lab.accepted_units}),
        required=False,
        help_text="ALT and AST: U/L (or IU/L, the same unit) or µkat/L; lipids: mg/dL or mmol/L.",
        error_messages={"invalid_choice": "Choose a unit from the list."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_warnings_field()

    def clean(self):
        cleaned = super().clean()
        kind, unit = cleaned.get("kind"), cleaned.get("unit")
        if kind and not unit:
            cleaned["unit"] = LAB_TYPES[kind].usual_unit
        elif kind and lab_unit(kind, unit) is None:
            self.add_error("unit", lab_units_words(kind))
        if not self.errors:
            stored_unit = lab_unit(kind, cleaned["unit"])
            unusual = unusual_lab_value(kind, cleaned["value"], stored_unit)
            self.check_warnings({"value": unusual} if unusual else {})
            cleaned["confirm_unusual"] = bool(unusual)  # reached only once confirmed
        return cleaned


class MoodReviewForm(CrispyMixin, forms.Form):
    submit_label = "Record mood review"
    reviewed_on = forms.DateField()
    note = LimitedText(limit=NOTE_MAX_LENGTH, validators=[multi_line])


class PrescriptionForm(CrispyMixin, forms.ModelForm):
    submit_label = "Write prescription"

    class Meta:
        model = Prescription
        fields = ["written_on", "daily_dose_mg", "days_supply"]
        labels = {"daily_dose_mg": "Daily dose (mg)", "days_supply": "Days' supply (1-30)"}


class DispenseForm(CrispyMixin, forms.Form):
    submit_label = "Record dispense"
    dispensed_on = forms.DateField()
    rma_number = forms.CharField(
        label="RMA number",
        max_length=40,
        validators=[one_line],
        help_text="The number iPLEDGE gave the pharmacy for this dispense: digits only.",
    )

    def clean_rma_number(self):
        if message := rma_number_error(self.cleaned_data["rma_number"]):
            raise ValidationError(message)
        return stored_rma_number(self.cleaned_data["rma_number"])


class NewCourseForm(CrispyMixin, forms.Form):
    submit_label = "Start the new course"
    opened_on = forms.DateField(label="New course starts on")
    target_mg_per_kg = forms.IntegerField(
        label="Cumulative dose target (mg/kg)",
        min_value=MIN_TARGET_MG_PER_KG,
        max_value=MAX_TARGET_MG_PER_KG,
        required=False,
        help_text="Leave empty for the clinic default.",
    )


class EndTreatmentForm(CrispyMixin, forms.Form):
    submit_label = "End treatment"
    last_dose_on = forms.DateField(label="Last dose date")


SEVERITY_CHOICES = [("", "None"), *Severity.choices]
SIDE_EFFECT_PREFIX = "se_"


def _score(label: str, top: int, **kwargs) -> forms.IntegerField:
    message = f"{label} is a score from 0 to {top}."
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=top,
        error_messages={"min_value": message, "max_value": message, "invalid": message},
        **kwargs,
    )


def _css_class(widget) -> str:
    if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
        return "form-check-input"
    if isinstance(widget, forms.Select):
        return "form-select form-select-sm"
    return "form-control"


class VisitChecklistForm(WarningsMixin, forms.Form):
    """The monthly visit, in the order it happens. Rendered by templates/monitoring/visit_form.

    The same checks run here and in the service: the page says what is wrong next to the field,
    and the service refuses it whichever door the data came in by.
    """

    visited_on = forms.DateField(label="Visit date", widget=date_input())
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        max_digits=5,
        decimal_places=1,
        required=False,
        error_messages={"invalid": "Enter the weight in kilograms, e.g. 62.5."},
    )
    missed_dose_days = forms.IntegerField(
        label="Days of doses missed since the last visit",
        min_value=0,
        max_value=30,
        initial=0,
        error_messages={
            "min_value": "Missed dose days must be from 0 to 30.",
            "max_value": "Missed dose days must be from 0 to 30.",
        },
    )
    phq2 = _score("PHQ-2", 6)
    phq9 = _score("PHQ-9 total", 27, required=False)
    phq9_item9 = _score("PHQ-9 item 9 (thoughts of self-harm)", 3, required=False)
    counseling_confirmed = forms.BooleanField(
        label="I counseled the patient this month (clinician)", required=False
    )
    comprehension_completed = forms.BooleanField(
        label="The patient completed this month's iPLEDGE comprehension questions", required=False
    )
    reconfirm_contraception = forms.BooleanField(
        label="Contraception re-confirmed with the patient at this visit", required=False
    )
    methods = forms.MultipleChoiceField(
        choices=ContraceptionMethod.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    abstinence = forms.BooleanField(label="Committed to abstinence", required=False)
    started_on = forms.DateField(
        label="Current methods started on", required=False, widget=date_input()
    )
    next_visit_on = forms.DateField(label="Next visit", required=False, widget=date_input())
    notes = LimitedText(limit=NOTE_MAX_LENGTH, required=False, validators=[multi_line])

    def __init__(self, *args, patient, clinician: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        if not clinician:
            del self.fields["counseling_confirmed"]
        if not patient.can_get_pregnant:
            for name in ("reconfirm_contraception", "methods", "abstinence", "started_on"):
                del self.fields[name]
        message = "Choose none, mild, moderate or severe."
        for code, label in SideEffect.choices:
            self.fields[SIDE_EFFECT_PREFIX + code] = forms.ChoiceField(
                label=label,
                choices=SEVERITY_CHOICES,
                required=False,
                error_messages={"invalid_choice": message},
            )
        for field in self.fields.values():
            field.widget.attrs["class"] = _css_class(field.widget)
        self.add_warnings_field()

    def side_effect_fields(self):
        return [self[SIDE_EFFECT_PREFIX + code] for code in SideEffect.values]

    def method_tiers(self):
        """(tier, [checkbox]) in the order staff read them: primary, secondary, not counted."""
        boxes = {box.data["value"]: box for box in self["methods"]}
        return [
            (tier, [boxes[m] for m in ContraceptionMethod.values if m in codes])
            for tier, codes in METHOD_TIERS
        ]

    def clean(self):
        cleaned = super().clean()
        unknown = sorted(
            key[len(SIDE_EFFECT_PREFIX) :]
            for key in self.data
            if key.startswith(SIDE_EFFECT_PREFIX) and key not in self.fields
        )
        if unknown:
            self.add_error(None, f"Unknown side effect: {', '.join(unknown)}.")
        self._clean_mood(cleaned)
        visited, next_visit = cleaned.get("visited_on"), cleaned.get("next_visit_on")
        if visited and next_visit and next_visit <= visited:
            self.add_error("next_visit_on", "The next visit must be after this visit.")
        if cleaned.get("reconfirm_contraception"):
            if not cleaned.get("methods") and not cleaned.get("abstinence"):
                self.add_error("methods", "Tick the methods, or abstinence.")
            started = cleaned.get("started_on")
            if started and visited and started > visited:
                self.add_error("started_on", "The methods cannot start after this visit.")
        self._apply_service_checks()
        if not self.errors:
            warnings = visit_warnings(self.patient, self.visit_data())
            if contraception := self.contraception_data():
                warnings.update(
                    contraception_record_warnings(
                        contraception["methods"], contraception["abstinence"]
                    )
                )
            self.check_warnings(warnings)
            if warnings:
                self.fields["confirm_warnings"].widget.attrs["class"] = "form-check-input"
        return cleaned

    def _apply_service_checks(self):
        """The service's own checks (dates against today and enrollment, ranges), so every
        error shows at once, in the service's words."""
        try:
            validate_visit(self.patient, self.visit_data())
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, messages)

    def _clean_mood(self, cleaned):
        """The checklist asks for the whole screen at once (services.incomplete_mood_screen)."""
        for field, message in incomplete_mood_screen(cleaned).items():
            if field not in self.errors:
                self.add_error(field, message)

    def visit_data(self) -> dict:
        data = self.cleaned_data
        return {
            **{
                name: data.get(name)
                for name in (
                    "visited_on",
                    "weight_kg",
                    "phq2",
                    "phq9",
                    "phq9_item9",
                    "next_visit_on",
                )
            },
            "missed_dose_days": data.get("missed_dose_days") or 0,
            "counseling_confirmed": bool(data.get("counseling_confirmed")),
            "comprehension_completed": bool(data.get("comprehension_completed")),
            "side_effects": {
                code: data.get(SIDE_EFFECT_PREFIX + code)
                for code in SideEffect.values
                if data.get(SIDE_EFFECT_PREFIX + code)
            },
            "notes": data.get("notes") or "",
        }

    def contraception_data(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("reconfirm_contraception"):
            return None
        return {
            "confirmed_on": data["visited_on"],
            "methods": list(data.get("methods") or []),
            "abstinence": bool(data.get("abstinence")),
            "started_on": data.get("started_on"),
        }
