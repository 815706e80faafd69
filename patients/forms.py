from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from clinic.notes import REASON_MAX_LENGTH, LimitedText
from clinic.text import multi_line
from rules import constants as rule_constants
from rules.constants import MAX_TARGET_MG_PER_KG, MIN_TARGET_MG_PER_KG

from . import search, services
from .models import (
    Consent,
    ContraceptionConfirmation,
    ContraceptionMethod,
    Patient,
    PregnancyTest,
    RiskCategory,
    TestResult,
)


def date_input() -> forms.DateInput:
    """A new date widget for each field. Never share one instance between forms: crispy
    writes `is-invalid` into the widget's attrs on an error, and a shared instance then marked
    every date input of every later form invalid until a restart."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# Contraception methods by tier, as the rules count them (docs/domain.md section 4).
METHOD_TIERS = (
    ("Primary", rule_constants.PRIMARY_METHODS),
    ("Secondary", rule_constants.SECONDARY_METHODS),
    ("Not acceptable (never counts)", rule_constants.UNACCEPTABLE_METHODS),
)
GROUPED_METHOD_CHOICES = [
    (tier, [(code, label) for code, label in ContraceptionMethod.choices if code in codes])
    for tier, codes in METHOD_TIERS
]


class CrispyMixin:
    submit_label = "Save"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", self.submit_label))
        for field in self.fields.values():
            if isinstance(field, forms.DateField):
                field.widget = date_input()


class WarningsMixin:
    """Warn, do not refuse, where a clinician may be right (a very young patient, a large
    weight change, a confirmation that will not count): the form shows the warnings with a
    "save anyway" box and saves once it is ticked. Every such form says it the same way."""

    def add_warnings_field(self):
        self.warnings = {}
        self.fields["confirm_warnings"] = forms.BooleanField(
            required=False,
            label="I have checked the warning above: save anyway",
            widget=forms.HiddenInput,
        )

    def check_warnings(self, warnings: dict) -> None:
        self.warnings = warnings
        # The box is the page's business: the services never see it.
        confirmed = self.cleaned_data.pop("confirm_warnings", False)
        if warnings and not confirmed:
            self.fields["confirm_warnings"].widget = forms.CheckboxInput()
            self["confirm_warnings"].help_text = ""
            self.add_error(
                None, "Nothing was saved yet: check the warning, then tick “save anyway”."
            )


class PatientForm(WarningsMixin, CrispyMixin, forms.ModelForm):
    submit_label = "Enroll patient"
    target_mg_per_kg = forms.IntegerField(
        label="Cumulative dose target (mg/kg)",
        min_value=MIN_TARGET_MG_PER_KG,
        max_value=MAX_TARGET_MG_PER_KG,
        required=False,
        help_text="Leave empty for the clinic default.",
    )

    class Meta:
        model = Patient
        fields = list(services.ENROLLMENT_FIELDS)
        # Django capitalises a model field's name ("IPLEDGE ID"); the program spells it so.
        labels = {
            "ipledge_id": "iPLEDGE ID",
            "preferred_language": "Language of the patient's emails and page",
        }
        error_messages = {
            "weight_kg": {"invalid": "Enter the weight in kilograms, e.g. 62.5."},
            "email": {"invalid": "Enter a valid email address, e.g. name@example.org."},
        }

    def clean_mrn(self):
        return self.cleaned_data["mrn"].strip()

    def clean_preferred_language(self):
        # Optional: a form posted without it keeps the patient's language (English when new).
        return self.cleaned_data["preferred_language"] or self.instance.preferred_language

    def __init__(self, *args, may_allow_home_tests: bool = False, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        if not may_allow_home_tests:
            del self.fields["home_tests_allowed"]  # the prescriber's decision
        self.fields["preferred_language"].required = False
        if "risk_category_reason" in self.fields:
            self.fields["risk_category_reason"] = LimitedText(limit=REASON_MAX_LENGTH, rows=2)
        self.add_warnings_field()

    def clean(self):
        cleaned = super().clean()
        if self.today is not None and not self.errors:
            self.check_warnings(
                services.enrollment_warnings(
                    cleaned, today=self.today, risk_category=self.instance.risk_category
                )
            )
        return cleaned


class PatientEditForm(PatientForm):
    submit_label = "Save changes"

    class Meta(PatientForm.Meta):
        fields = [
            f for f in PatientForm.Meta.fields if f not in {"risk_category", "risk_category_reason"}
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["target_mg_per_kg"]


class RiskCategoryForm(CrispyMixin, forms.Form):
    submit_label = "Change risk category"
    risk_category = forms.ChoiceField(choices=RiskCategory.choices)
    changed_on = forms.DateField(label="Effective date")
    reason = LimitedText(limit=REASON_MAX_LENGTH, rows=2, validators=[multi_line])


class ConsentForm(CrispyMixin, forms.ModelForm):
    submit_label = "Record consent"

    class Meta:
        model = Consent
        fields = ["kind", "signed_on"]


class ContraceptionForm(WarningsMixin, CrispyMixin, forms.ModelForm):
    submit_label = "Record confirmation"
    methods = forms.MultipleChoiceField(
        choices=GROUPED_METHOD_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Two methods, at least one primary; or abstinence. "
        "A progestin-only pill never counts.",
    )

    class Meta:
        model = ContraceptionConfirmation
        fields = ["confirmed_on", "methods", "abstinence", "started_on"]
        labels = {"started_on": "Current methods started on"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_warnings_field()

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("methods") and not cleaned.get("abstinence"):
            self.add_error("methods", "Choose the methods, or tick abstinence.")
        elif not self.errors:
            self.check_warnings(
                services.contraception_record_warnings(
                    cleaned.get("methods") or [], bool(cleaned.get("abstinence"))
                )
            )
        return cleaned


class PregnancyTestForm(CrispyMixin, forms.ModelForm):
    submit_label = "Record test"

    class Meta:
        model = PregnancyTest
        fields = ["kind", "collected_on", "result", "setting", "clia_lab", "method", "evidence"]
        help_texts = {"evidence": "Required for a home test: a photo or readout of the result."}

    # The second step's button: a positive result is saved only once it is pressed (a mistyped
    # result would stop a patient's treatment and put them first on Today).
    CONFIRM_POSITIVE = "confirm_positive"
    POSITIVE_LABEL = "Save positive result"

    def clean(self):
        data = super().clean()
        confirmed = bool(self.data.get(self.CONFIRM_POSITIVE)) if self.data else False
        if data.get("result") == TestResult.POSITIVE and not confirmed:
            self.needs_positive_confirmation = True
            save = Submit(self.CONFIRM_POSITIVE, self.POSITIVE_LABEL)
            save.field_classes = "btn btn-danger"
            again = Submit("submit", self.submit_label)
            again.field_classes = "btn btn-outline-secondary ms-2"
            self.helper.inputs = [save, again]
            self.add_error(
                None,
                "Nothing was saved yet. This records a POSITIVE pregnancy test: no prescription "
                "can be written while it stands, and the patient goes first on Today, under "
                "Safety, for a clinician to act on today. If the result is positive, press "
                f"“{self.POSITIVE_LABEL}”; if not, correct the result and save.",
            )
        return data


class SupersedeForm(CrispyMixin, forms.Form):
    submit_label = "Mark superseded"
    reason = LimitedText(limit=REASON_MAX_LENGTH, rows=2, validators=[multi_line])


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")

    def clean_q(self):
        term = self.cleaned_data["q"].strip()
        search.birth_date_in(term)  # a date-shaped term that is no date says so
        return term
