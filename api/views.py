"""The public API, v1 (docs/domain.md, section 8).

Each endpoint is fetch -> check -> service -> answer.

Lookups go through patients.access, so another clinic's record is a 404 before any role check;
writes go through the services, which own the domain rules and the transaction, so a refused
request (400, 403, 404, 409) changes nothing.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.access import current_clinic, may
from clinic.audit import log_view
from clinic.roles import Action
from monitoring import enrollment
from monitoring import services as monitoring
from monitoring.models import LabResult, Prescription, Reminder, Visit
from patients import services as patients
from patients.access import get_patient, get_record
from patients.models import Consent, ContraceptionConfirmation, PregnancyTest
from rules.constants import RETREATMENT_GAP_DAYS

from . import serializers as s
from .parsers import AcceptHeaderNegotiation, EvidenceUploadParser, JSONParser
from .permissions import IsClinicMember
from .schema import ON_PARAMETER, ClinicSchema, document


def field_errors(error: DjangoValidationError) -> dict:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {"non_field_errors": error.messages}


class ClinicView(APIView):
    # A JSON endpoint acting in the user's clinic, with the services' errors mapped to HTTP.
    # (A comment, not a docstring: the schema would repeat a docstring on every endpoint.)

    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, IsClinicMember]
    content_negotiation_class = AcceptHeaderNegotiation
    schema = ClinicSchema()

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(field_errors(exc))
        elif isinstance(exc, monitoring.PrescriptionRefused):
            body = {"detail": "The prescription is refused.", "blockers": exc.blockers}
            return Response(s.RefusedOut(body).data, status=status.HTTP_409_CONFLICT)
        elif isinstance(exc, IntegrityError):  # e.g. the same MRN enrolled at the same moment
            exc = exceptions.ValidationError(
                {"non_field_errors": ["Another request changed this record; try again."]}
            )
        return super().handle_exception(exc)

    def require(self, action: Action) -> None:
        if not may(self.request, action):
            raise exceptions.PermissionDenied("Your role does not allow this.")

    def patient(self, id: int, action: Action):
        """The clinic's patient (else 404), then the role check (else 403)."""
        patient = get_patient(self.request, id)
        self.require(action)
        return patient

    def record(self, model, id: int, action: Action):
        record = get_record(self.request, model, id)
        self.require(action)
        return record

    def valid(self, serializer_class, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def created(serializer_class, instance) -> Response:
    return Response(serializer_class(instance).data, status=status.HTTP_201_CREATED)


class RecordCollection(ClinicView):
    # GET lists the patient's records of one kind in date order (docs/domain.md, section 8); anyone
    # who may see the patient may list them, and the listing is one access event in the audit
    # log, like the patient GET. Subclasses name the model, its date field and the output.

    model = None
    date_field = ""
    out = None

    def records(self, request, id) -> Response:
        patient = self.patient(id, Action.VIEW_PATIENTS)
        records = self.model.objects.filter(patient=patient).order_by(self.date_field, "id")
        log_view(request.user, patient)
        return Response(self.out(records, many=True).data)


def listing(summary: str, out):
    """The schema of a GET on a record collection."""
    return document(summary, ok=out(many=True), errors=(403, 404))


class Schema(SpectacularAPIView):
    """The OpenAPI schema. It holds no patient data but, like all of the API, needs a token."""

    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PatientCreate(ClinicView):
    @document(
        "Enroll a patient", request=s.PatientIn, ok=s.PatientOut, status=201, errors=(400, 403)
    )
    def post(self, request):
        self.require(Action.ENROLL_PATIENT)
        data = self.valid(s.PatientIn)
        patient = enrollment.enroll_patient(
            clinic=current_clinic(request),
            by=request.user,
            data=data,
            may_allow_home_tests=may(request, Action.ALLOW_HOME_TESTS),
        )
        return created(s.PatientOut, patient)


class PatientDetail(ClinicView):
    @document("A patient's enrollment details", ok=s.PatientOut, errors=(403, 404))
    def get(self, request, id):
        patient = self.patient(id, Action.VIEW_PATIENTS)
        log_view(request.user, patient)
        return Response(s.PatientOut(patient).data)


class Consents(RecordCollection):
    model, date_field, out = Consent, "signed_on", s.ConsentOut

    @listing("The patient's signed consents, by signed date", s.ConsentOut)
    def get(self, request, id):
        return self.records(request, id)

    @document("Record a signed consent", request=s.ConsentIn, ok=s.ConsentOut, status=201)
    def post(self, request, id):
        patient = self.patient(id, Action.RECORD_CHECKS)
        data = self.valid(s.ConsentIn)
        return created(s.ConsentOut, patients.record_consent(patient, by=request.user, **data))


class Contraception(RecordCollection):
    model, date_field, out = ContraceptionConfirmation, "confirmed_on", s.ContraceptionOut

    @listing("The patient's contraception confirmations, by date", s.ContraceptionOut)
    def get(self, request, id):
        return self.records(request, id)

    @document(
        "Record a contraception confirmation",
        request=s.ContraceptionIn,
        ok=s.ContraceptionOut,
        status=201,
    )
    def post(self, request, id):
        patient = self.patient(id, Action.RECORD_CHECKS)
        data = self.valid(s.ContraceptionIn)
        confirmation = patients.record_contraception(patient, by=request.user, **data)
        return created(s.ContraceptionOut, confirmation)


class PregnancyTests(RecordCollection):
    model, date_field, out = PregnancyTest, "collected_on", s.PregnancyTestOut

    @listing("The patient's pregnancy tests, by specimen collection date", s.PregnancyTestOut)
    def get(self, request, id):
        return self.records(request, id)

    parser_classes = [JSONParser, EvidenceUploadParser]

    @document(
        "Record a pregnancy test",
        description=(
            "A home test needs its evidence: send the test as `multipart/form-data` with an "
            "`evidence` file (a photo or PDF of the result, at most 10 MB, a 413 above that). "
            "Without it a home test is a 400 naming `evidence`."
        ),
        request={
            "application/json": s.PregnancyTestIn,
            "multipart/form-data": s.PregnancyTestUploadIn,
        },
        ok=s.PregnancyTestOut,
        status=201,
        errors=(400, 403, 404, 413),
    )
    def post(self, request, id):
        patient = self.patient(id, Action.RECORD_CHECKS)
        upload = request.content_type.startswith("multipart/form-data")
        data = self.valid(s.PregnancyTestUploadIn if upload else s.PregnancyTestIn)
        # The service stores the evidence where the web page does (the test's FileField).
        test = patients.record_pregnancy_test(patient, by=request.user, data=dict(data))
        return created(s.PregnancyTestOut, test)


class Labs(RecordCollection):
    model, date_field, out = LabResult, "collected_on", s.LabOut

    @listing("The patient's lab results, by collection date", s.LabOut)
    def get(self, request, id):
        return self.records(request, id)

    @document(
        "Record a lab result",
        description=(
            "`IU/L` is stored as `U/L`. A value far outside what labs report for its kind and "
            'unit (docs/rules.md, "Lab values") is a 400 naming `value` unless the body has '
            "`confirm_unusual: true`, so a slip of a digit or of the unit is caught."
        ),
        request=s.LabIn,
        ok=s.LabOut,
        status=201,
    )
    def post(self, request, id):
        patient = self.patient(id, Action.RECORD_CHECKS)
        data = self.valid(s.LabIn)
        return created(s.LabOut, monitoring.record_lab(patient, by=request.user, **data))


class Visits(RecordCollection):
    model, date_field, out = Visit, "visited_on", s.VisitOut

    @listing("The patient's visits, by date", s.VisitOut)
    def get(self, request, id):
        return self.records(request, id)

    @document(
        "Record a visit",
        description="`counseling_confirmed: true` is refused (403) unless the user is a clinician.",
        request=s.VisitIn,
        ok=s.VisitOut,
        status=201,
    )
    def post(self, request, id):
        patient = self.patient(id, Action.RECORD_VISIT)
        data = self.valid(s.VisitIn)
        may_confirm = may(request, Action.CONFIRM_COUNSELING)
        if data["counseling_confirmed"] and not may_confirm:
            raise exceptions.PermissionDenied("Only a clinician can confirm counseling.")
        visit = monitoring.record_visit(
            patient, by=request.user, data=dict(data), may_confirm_counseling=may_confirm
        )
        return created(s.VisitOut, visit)


class PatientStatus(ClinicView):
    @document(
        "The gate, windows, due dates and dose as of a date",
        ok=s.StatusOut,
        parameters=[ON_PARAMETER],
    )
    def get(self, request, id):
        patient = self.patient(id, Action.VIEW_PATIENTS)
        query = self.valid(s.StatusQuery, data=request.query_params)
        on = query.get("on") or patient.clinic.today()
        log_view(request.user, patient)
        return Response(s.StatusOut(monitoring.patient_status(patient, on)).data)


class Prescriptions(RecordCollection):
    model, date_field, out = Prescription, "written_on", s.PrescriptionOut

    @listing("The patient's prescriptions, by written date", s.PrescriptionOut)
    def get(self, request, id):
        return self.records(request, id)

    @document(
        "Write a prescription",
        description="Accepted only when the gate has no blocker on `written_on`; else a 409.",
        request=s.PrescriptionIn,
        ok=s.PrescriptionOut,
        status=201,
        errors=(400, 403, 404, 409),
    )
    def post(self, request, id):
        patient = self.patient(id, Action.WRITE_PRESCRIPTION)
        data = self.valid(s.PrescriptionIn)
        prescription = monitoring.write_prescription(patient, by=request.user, **data)
        return created(s.PrescriptionOut, prescription)


class Dispense(ClinicView):
    @document("Record the pharmacy's dispense", request=s.DispenseIn, ok=s.PrescriptionOut)
    def post(self, request, id):
        prescription = self.record(Prescription, id, Action.RECORD_CHECKS)
        data = self.valid(s.DispenseIn)
        prescription = monitoring.dispense(prescription, by=request.user, **data)
        return Response(s.PrescriptionOut(prescription).data)


class RiskCategoryChangeCreate(ClinicView):
    @document(
        "Change the patient's risk category from a date on",
        description="Clinician only. The rules judge each date by the category in force on it.",
        request=s.RiskCategoryIn,
        ok=s.RiskCategoryChangeOut,
        status=201,
    )
    def post(self, request, id):
        patient = self.patient(id, Action.CHANGE_RISK_CATEGORY)
        data = self.valid(s.RiskCategoryIn)
        patient = patients.change_risk_category(
            patient,
            by=request.user,
            new=data["risk_category"],
            changed_on=data["changed_on"],
            reason=data["reason"],
        )
        return created(s.RiskCategoryChangeOut, patient.risk_changes.order_by("-id").first())


class CourseCreate(ClinicView):
    @document(
        "Start a new treatment course (re-treatment)",
        description="Only after the last course ended, and not before its last dose + "
        f"{RETREATMENT_GAP_DAYS} days.",
        request=s.NewCourseIn,
        ok=s.NewCourseOut,
        status=201,
    )
    def post(self, request, id):
        patient = self.patient(id, Action.ENROLL_PATIENT)
        data = self.valid(s.NewCourseIn)
        try:
            course = enrollment.start_new_course(
                patient,
                by=request.user,
                opened_on=data["enrolled_on"],
                target_mg_per_kg=data.get("target_mg_per_kg"),
            )
        except DjangoValidationError as error:
            # The service calls the new course's enrollment date `opened_on`.
            errors = field_errors(error)
            if "opened_on" in errors:
                errors["enrolled_on"] = errors.pop("opened_on")
            raise exceptions.ValidationError(errors) from None
        return created(s.NewCourseOut, course)


class EndTreatment(ClinicView):
    @document("End the treatment course", request=s.EndTreatmentIn, ok=s.CourseOut)
    def post(self, request, id):
        patient = self.patient(id, Action.END_TREATMENT)
        data = self.valid(s.EndTreatmentIn)
        course = monitoring.end_treatment(patient, by=request.user, **data)
        return Response(s.CourseOut(course).data)


class MoodReviewCreate(ClinicView):
    @document("Record a clinician's mood review", request=s.MoodReviewIn, ok=s.MoodReviewOut)
    def post(self, request, id):
        visit = self.record(Visit, id, Action.REVIEW_MOOD)
        data = self.valid(s.MoodReviewIn)
        review = monitoring.record_mood_review(visit, by=request.user, **data)
        return Response(s.MoodReviewOut(review).data)


class Supersede(ClinicView):
    @document(
        "Mark a positive pregnancy test superseded",
        request=s.SupersedeIn,
        ok=s.PregnancyTestOut,
    )
    def post(self, request, id):
        test = self.record(PregnancyTest, id, Action.SUPERSEDE_TEST)
        data = self.valid(s.SupersedeIn)
        test = patients.supersede_test(
            test, by=request.user, reason=data["reason"], on=test.patient.clinic.today()
        )
        return Response(s.PregnancyTestOut(test).data)


class ReminderList(ClinicView):
    @document("The patient's reminders", ok=s.ReminderOut(many=True), errors=(403, 404))
    def get(self, request, id):
        patient = self.patient(id, Action.VIEW_PATIENTS)
        reminders = Reminder.objects.filter(patient=patient).order_by("due_on", "kind", "id")
        log_view(request.user, patient)
        return Response(s.ReminderOut(reminders, many=True).data)
