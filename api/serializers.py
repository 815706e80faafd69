"""Shapes of the API's bodies. Input serializers check types and sizes only (the database's own
limits included, so nothing overflows a column); the services own every domain rule.

Decimals are returned as strings, DRF's default, so no figure loses a digit on the way.
"""

import datetime
import math
import re
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.notes import NOTE_MAX_LENGTH, REASON_MAX_LENGTH, too_long
from clinic.text import (
    MULTI_LINE_REFUSED,
    ONE_LINE_REFUSED,
    TextValidator,
    character_class,
    nfc,
)
from monitoring.models import (
    Course,
    LabKind,
    LabResult,
    MoodReview,
    Prescription,
    Reminder,
    Severity,
    Visit,
)
from monitoring.services import VISIT_FIELDS
from patients import evidence
from patients.models import (
    Consent,
    ConsentKind,
    ContraceptionConfirmation,
    ContraceptionMethod,
    Language,
    Patient,
    PregnancyTest,
    RiskCategory,
    RiskCategoryChange,
    Source,
    TestKind,
    TestMethod,
    TestResult,
    TestSetting,
)
from patients.services import ENROLLMENT_FIELDS, MAX_WEIGHT_KG, MIN_WEIGHT_KG
from rules import RS_2021_IN_FORCE_FROM
from rules.constants import (
    MAX_TARGET_MG_PER_KG,
    MIN_TARGET_MG_PER_KG,
    RETREATMENT_GAP_DAYS,
)

# What a text field accepts, as a pattern the schema states too: none of the characters
# clinic.text refuses (one-line fields refuse control, invisible and direction characters;
# multi-line ones keep line breaks and tabs), checked on the value as sent, and, unless it may be
# blank, one character that Python's strip() keeps (DRF strips the value first, then refuses it
# blank). Written out, since JavaScript's \s is another set.
_STRIPPED = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029"
    "\\u202f\\u205f\\u3000"
)


def _patterns(refused: frozenset[int]) -> tuple[str, str]:
    """(may be blank, not blank) patterns of a field refusing `refused`."""
    bad = character_class(refused)
    kept = f"[^{bad}]"
    return f"^{kept}*$", f"^{kept}*[^{bad}{_STRIPPED}]{kept}*$"


PATTERNS = {False: _patterns(ONE_LINE_REFUSED), True: _patterns(MULTI_LINE_REFUSED)}


class Text(serializers.CharField):
    """A JSON string. DRF's CharField also takes numbers (an MRN of 1e+308); this one does not.

    One line unless `multi_line` (notes and reasons); a `name` is turned to NFC before its
    length is checked (clinic.text.NameField stores it so)."""

    default_error_messages = {"invalid": "Send text, not a number or a true/false value."}

    def __init__(self, *, multi_line: bool = False, name: bool = False, **kwargs):
        self.text_check = TextValidator(multi_line=multi_line)
        self.is_name = name
        blank_allowed, not_blank = PATTERNS[multi_line]
        pattern = blank_allowed if kwargs.get("allow_blank") else not_blank
        # The validator only puts the pattern in the schema: to_internal_value has already
        # refused what it excludes, each with its own message, by the time it runs.
        validators = [*kwargs.pop("validators", []), RegexValidator(pattern)]
        super().__init__(validators=validators, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        # Checked as sent, before DRF strips it: "MRN-1\n" is refused, as the schema says.
        try:
            self.text_check(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        value = super().to_internal_value(data)
        return nfc(value) if self.is_name else value


class Figure(serializers.DecimalField):
    """A decimal figure in a range: JSON text matching `pattern` ("60.5"), or a whole JSON
    number from `whole_min` to `whole_max` (60). The schema states exactly these two forms
    (api/schema.py, FigureSchema); DRF's own DecimalField took "" and " 60", and its schema
    (a sign, any digits) allowed "", "0.0" and "-1" for a weight the server refuses. A fraction
    sent as a JSON number is refused: a float can lose the digit the clinic typed."""

    default_error_messages = {
        "figure": "Send a number from {low} to {high} with at most {places} decimal places, "
        'as text such as "{low}" (a whole number may be sent as a number).'
    }

    def __init__(self, *, low: Decimal, high: Decimal, pattern: str, **kwargs):
        self.low, self.high, self.pattern = Decimal(low), Decimal(high), pattern
        self.whole_min, self.whole_max = math.ceil(self.low), math.floor(self.high)
        super().__init__(min_value=self.low, max_value=self.high, **kwargs)

    def run_validation(self, data=serializers.empty):
        # Before DRF's own: it takes "" and " " for null where null is allowed.
        if isinstance(data, str) and not re.search(self.pattern, data):
            self.fail("figure", low=self.low, high=self.high, places=self.decimal_places)
        return super().run_validation(data)

    def to_internal_value(self, data):
        # re.search, as the schema's readers (jsonschema, Schemathesis) apply a pattern.
        if isinstance(data, str) and re.search(self.pattern, data):
            return super().to_internal_value(data)
        if isinstance(data, int) and not isinstance(data, bool):
            if self.whole_min <= data <= self.whole_max:
                return super().to_internal_value(data)
        self.fail("figure", low=self.low, high=self.high, places=self.decimal_places)


# Exactly the ranges of the figures, as patterns (tests/api/test_api_schema.py checks each
# against the field at every step of its precision): no sign, no blank, no leading zero.
WEIGHT_PATTERN = "^(([2-9][0-9]|[12][0-9]{2})(\\.[0-9])?|300(\\.0)?)$"  # 20-300 kg
TARGET_PATTERN = "^(([5-9][0-9]|[12][0-9]{2})(\\.[0-9])?|300(\\.0)?)$"  # 50-300 mg/kg
LAB_VALUE_PATTERN = "^(0|[1-9][0-9]{0,5})(\\.[0-9]{1,2})?$"  # 0-999999.99
DOSE_PATTERN = "^([1-9][0-9]{0,4}(\\.[0-9])?|0\\.[1-9])$"  # 0.1-99999.9 mg


def weight(**kwargs) -> Figure:
    return Figure(
        max_digits=5,
        decimal_places=1,
        low=MIN_WEIGHT_KG,
        high=MAX_WEIGHT_KG,
        pattern=WEIGHT_PATTERN,
        **kwargs,
    )


def target_mg_per_kg(**kwargs) -> Figure:
    return Figure(
        max_digits=5,
        decimal_places=1,
        low=MIN_TARGET_MG_PER_KG,
        high=MAX_TARGET_MG_PER_KG,
        pattern=TARGET_PATTERN,
        **kwargs,
    )


def optional_text(max_length: int) -> Text:
    return Text(max_length=max_length, required=False, allow_blank=True)


def note_text(max_length: int, **kwargs) -> Text:
    """A note or reason: past its limit a 400 naming the field and the limit, never cut."""
    return Text(
        max_length=max_length,
        error_messages={"max_length": too_long(max_length)},
        help_text=f"At most {max_length:,} characters; a longer text is refused, not cut.",
        **kwargs,
    )


def optional_date() -> serializers.DateField:
    return serializers.DateField(allow_null=True, default=None)


# Inputs -------------------------------------------------------------------------------------


class PatientIn(serializers.Serializer):
    mrn = Text(max_length=40)
    given_name = Text(max_length=100, name=True)
    family_name = Text(max_length=100, name=True)
    birth_date = serializers.DateField()
    email = serializers.EmailField(max_length=254)
    risk_category = serializers.ChoiceField(choices=RiskCategory.choices)
    weight_kg = weight()
    phone = optional_text(40)
    ipledge_id = optional_text(40)
    home_tests_allowed = serializers.BooleanField(required=False)
    target_mg_per_kg = target_mg_per_kg(required=False)
    enrolled_on = serializers.DateField(
        required=False, help_text="Defaults to today in the clinic's time zone."
    )
    preferred_language = serializers.ChoiceField(
        choices=Language.choices,
        required=False,
        help_text="The language of the patient's emails, page and calendar (default en).",
    )


class ConsentIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    signed_on = serializers.DateField()


class ContraceptionIn(serializers.Serializer):
    confirmed_on = serializers.DateField()
    source = serializers.ChoiceField(choices=Source.choices)
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=ContraceptionMethod.choices),
        max_length=len(ContraceptionMethod.choices),
        default=list,
    )
    abstinence = serializers.BooleanField(default=False)
    started_on = optional_date()


class PregnancyTestIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TestKind.choices)
    collected_on = serializers.DateField()
    result = serializers.ChoiceField(choices=TestResult.choices)
    setting = serializers.ChoiceField(choices=TestSetting.choices)
    clia_lab = serializers.BooleanField(default=False)
    method = serializers.ChoiceField(choices=TestMethod.choices)


@extend_schema_field({"type": "string", "format": "binary"})
class EvidenceFile(serializers.FileField):
    """A photo (JPEG, PNG, WebP, HEIC) or PDF of a home test's result, at most 10 MB. It is stored
    under a random name, so no one can guess where it lies."""

    def __init__(self, **kwargs):
        super().__init__(max_length=None, allow_empty_file=False, **kwargs)

    def to_internal_value(self, data):
        from .parsers import EVIDENCE_MAX_BYTES, PayloadTooLarge

        upload = super().to_internal_value(data)
        if upload.size > EVIDENCE_MAX_BYTES:
            raise PayloadTooLarge({self.field_name: [evidence.too_large_message()]})
        return upload  # its type is checked where every door's evidence is: the service


class PregnancyTestUploadIn(PregnancyTestIn):
    evidence = EvidenceFile(
        required=False,
        help_text="Required for a home test: a photo (JPEG, PNG, WebP, HEIC) or PDF of the "
        "result, at most 10 MB; its type is read from its content.",
    )


class LabIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LabKind.choices)
    collected_on = serializers.DateField()
    value = Figure(
        max_digits=8,
        decimal_places=2,
        low=Decimal(0),
        high=Decimal("999999.99"),
        pattern=LAB_VALUE_PATTERN,
    )
    unit = Text(
        max_length=16,
        help_text="ALT and AST: U/L (IU/L is accepted and stored as U/L) or µkat/L; "
        "lipids: mg/dL or mmol/L.",
    )
    confirm_unusual = serializers.BooleanField(
        default=False,
        help_text="Send true to record a value far outside what labs report (e.g. "
        "triglycerides above 2,000 mg/dL); without it such a value is a 400 naming `value`.",
    )


class VisitIn(serializers.Serializer):
    visited_on = serializers.DateField()
    weight_kg = weight(required=False, allow_null=True)
    counseling_confirmed = serializers.BooleanField(
        default=False, help_text="Only a clinician may send true."
    )
    comprehension_completed = serializers.BooleanField(default=False)
    phq2 = serializers.IntegerField(min_value=0, max_value=6)
    phq9 = serializers.IntegerField(min_value=0, max_value=27, required=False, allow_null=True)
    phq9_item9 = serializers.IntegerField(min_value=0, max_value=3, required=False, allow_null=True)
    side_effects = serializers.DictField(
        child=serializers.ChoiceField(choices=Severity.choices),
        required=False,
        help_text="Side effect code -> mild, moderate or severe.",
    )
    missed_dose_days = serializers.IntegerField(min_value=0, max_value=30, default=0)
    next_visit_on = optional_date()
    notes = note_text(NOTE_MAX_LENGTH, required=False, allow_blank=True, multi_line=True)


class PrescriptionIn(serializers.Serializer):
    written_on = serializers.DateField()
    daily_dose_mg = Figure(
        max_digits=6,
        decimal_places=1,
        low=Decimal("0.1"),
        high=Decimal("99999.9"),
        pattern=DOSE_PATTERN,
    )
    days_supply = serializers.IntegerField(min_value=1, max_value=30)


class DispenseIn(serializers.Serializer):
    dispensed_on = serializers.DateField()
    rma_number = Text(
        max_length=40,
        help_text="The number iPLEDGE gave the pharmacy for this dispense: 6 to 12 digits; "
        "spaces and dashes between them are dropped. Anything else is a 400 naming it.",
    )


class RiskCategoryIn(serializers.Serializer):
    risk_category = serializers.ChoiceField(choices=RiskCategory.choices)
    changed_on = serializers.DateField(help_text="The day the new category takes effect.")
    reason = note_text(REASON_MAX_LENGTH, multi_line=True)


class NewCourseIn(serializers.Serializer):
    enrolled_on = serializers.DateField(
        help_text=f"The new course's enrollment: at least {RETREATMENT_GAP_DAYS} days after the "
        "last dose."
    )
    target_mg_per_kg = target_mg_per_kg(
        required=False,
        help_text="The cumulative dose target; the clinic's default when left out.",
    )


class EndTreatmentIn(serializers.Serializer):
    last_dose_on = serializers.DateField()


class MoodReviewIn(serializers.Serializer):
    reviewed_on = serializers.DateField()
    note = note_text(NOTE_MAX_LENGTH, multi_line=True)


class SupersedeIn(serializers.Serializer):
    reason = note_text(REASON_MAX_LENGTH, multi_line=True)


# The rules do date arithmetic on `on` (windows, projected completion); a date near the ends of
# the calendar would overflow, so a status is asked about a date in a sensible range.
# docs/rules.md: no date before the first rule set is judged.
EARLIEST_STATUS_DATE = RS_2021_IN_FORCE_FROM
LATEST_STATUS_DATE = datetime.date(2999, 12, 31)


# The same range as a pattern, so the schema states it (format: date alone allows 0001-9999).
STATUS_DATE_PATTERN = (
    "^(2021-12-(1[3-9]|2[0-9]|3[01])|202[2-9]-[0-9]{2}-[0-9]{2}|20[3-9][0-9]-[0-9]{2}-[0-9]{2}"
    "|2[1-9][0-9]{2}-[0-9]{2}-[0-9]{2})$"
)


class QueryDate(serializers.DateField):
    """A date in the query string. DRF reads an empty `?on=` as no date at all (today), while
    the schema's pattern refuses "": here it is a 400 naming the parameter, as the schema says."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class StatusQuery(serializers.Serializer):
    on = QueryDate(
        required=False,
        help_text=f"Defaults to today at the clinic. From {EARLIEST_STATUS_DATE.isoformat()} "
        f"(the first rule set) to {LATEST_STATUS_DATE.year}.",
        # Only states the range in the schema; validate_on below words the refusal.
        validators=[RegexValidator(STATUS_DATE_PATTERN)],
    )

    def validate_on(self, value: datetime.date) -> datetime.date:
        if not EARLIEST_STATUS_DATE <= value <= LATEST_STATUS_DATE:
            raise serializers.ValidationError(
                f"Ask about a date from {EARLIEST_STATUS_DATE} (the first rule set) to 2999."
            )
        return value


# Outputs ------------------------------------------------------------------------------------


class PatientOut(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", *ENROLLMENT_FIELDS, "risk_category_set_on", "email_opt_out"]


class ConsentOut(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "kind", "signed_on"]


class ContraceptionOut(serializers.ModelSerializer):
    methods = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = ContraceptionConfirmation
        fields = ["id", "confirmed_on", "source", "methods", "abstinence", "started_on"]


class PregnancyTestOut(serializers.ModelSerializer):
    has_evidence = serializers.SerializerMethodField(
        help_text="Whether a photo or PDF of the result is kept (it is never served by URL)."
    )

    class Meta:
        model = PregnancyTest
        fields = [
            "id",
            "kind",
            "collected_on",
            "result",
            "setting",
            "clia_lab",
            "method",
            "superseded_on",
            "superseded_reason",
            "has_evidence",
        ]

    def get_has_evidence(self, test: PregnancyTest) -> bool:
        return bool(test.evidence)


class LabOut(serializers.ModelSerializer):
    class Meta:
        model = LabResult
        fields = ["id", "kind", "collected_on", "value", "unit"]


class VisitOut(serializers.ModelSerializer):
    side_effects = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = Visit
        fields = ["id", *VISIT_FIELDS]


class PrescriptionOut(serializers.ModelSerializer):
    class Meta:
        model = Prescription
        fields = ["id", "written_on", "daily_dose_mg", "days_supply", "dispensed_on", "rma_number"]


class CourseOut(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "opened_on", "target_mg_per_kg", "last_dose_on"]


class RiskCategoryChangeOut(serializers.ModelSerializer):
    # Plain strings: a second enum of the same choices would collide with RiskCategoryEnum.
    previous = serializers.CharField(help_text="The category before the change.")
    risk_category = serializers.CharField(source="new", help_text="The category from changed_on.")

    class Meta:
        model = RiskCategoryChange
        fields = ["id", "previous", "risk_category", "changed_on", "reason"]


class NewCourseOut(serializers.ModelSerializer):
    enrolled_on = serializers.DateField(source="opened_on")

    class Meta:
        model = Course
        fields = ["id", "enrolled_on", "target_mg_per_kg", "last_dose_on"]


class MoodReviewOut(serializers.ModelSerializer):
    class Meta:
        model = MoodReview
        fields = ["id", "visit", "reviewed_on", "note"]


class ReminderOut(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = ["kind", "due_on", "status"]


# The rules engine's answer, read straight from its frozen dataclasses.


class BlockerOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    until = serializers.DateField(allow_null=True)


class WarningOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class WindowOut(serializers.Serializer):
    opens_on = serializers.DateField()
    closes_on = serializers.DateField()


class DueOut(serializers.Serializer):
    code = serializers.CharField()
    due_on = serializers.DateField()


class CumulativeOut(serializers.Serializer):
    mg = serializers.DecimalField(max_digits=None, decimal_places=1)
    mg_per_kg = serializers.DecimalField(max_digits=None, decimal_places=1)
    target_mg_per_kg = serializers.DecimalField(max_digits=None, decimal_places=1)
    projected_completion_on = serializers.DateField(allow_null=True)


class StatusOut(serializers.Serializer):
    rule_set = serializers.CharField()
    can_prescribe = serializers.BooleanField()
    blockers = BlockerOut(many=True)
    warnings = WarningOut(many=True)
    window = WindowOut(allow_null=True)
    due = DueOut(many=True)
    cumulative = CumulativeOut()


class RefusedOut(serializers.Serializer):
    detail = serializers.CharField()
    blockers = BlockerOut(many=True)


class DetailOut(serializers.Serializer):
    detail = serializers.CharField()
