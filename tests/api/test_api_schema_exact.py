"""The schema takes exactly what the server takes (docs/domain.md section 8; issue 20, item 9):
the decimal figures, the query parameters, the evidence file and the 406 answers.
tests/api/test_api_schemathesis.py finds such gaps by fuzzing; these pin each one down."""

from decimal import Decimal

import jsonschema
import pytest
from django.core.management import call_command
from rest_framework import serializers

from api import serializers as s

FIGURES = [
    ("PatientIn", s.PatientIn, "weight_kg"),
    ("PatientIn", s.PatientIn, "target_mg_per_kg"),
    ("VisitIn", s.VisitIn, "weight_kg"),
    ("LabIn", s.LabIn, "value"),
    ("PrescriptionIn", s.PrescriptionIn, "daily_dose_mg"),
    ("NewCourseIn", s.NewCourseIn, "target_mg_per_kg"),
]
MALFORMED = ["", " ", "0.0", "-1", "-0", "+60", " 60", "60 ", "1e2", "060", "60.", ".5", "NaN"]
MALFORMED += ["Infinity", "60,5", "٦٠", "６０", "0x3c", "60.5.1", "1" * 40]


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    import yaml

    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def candidates(field) -> list:
    """Text at every step of the field's precision (and one finer) around both ends of its
    range and a few inside, the malformed texts, and JSON numbers."""
    places = field.decimal_places
    step = Decimal(1).scaleb(-places)
    values = set()
    for centre in (field.low, field.high, (field.low + field.high) / 2, Decimal(60)):
        for n in range(-25, 26):
            value = (centre // step) * step + n * step
            values.add(value)
            values.add(value + step / 10)  # one decimal place too many
    texts = []
    for value in values:
        texts += [f"{value:.{places}f}", f"{value:.{places + 1}f}", f"{value.normalize():f}"]
        if value == value.to_integral_value():
            texts.append(f"{int(value)}")
    numbers = [int(field.low) - 1, int(field.low), int(field.high), int(field.high) + 1, 60]
    return texts + MALFORMED + numbers + [60.5, True, None, [60], {"v": 60}]


def server_takes(field, value) -> bool:
    try:
        field.run_validation(value)
    except serializers.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("component", "serializer", "name"), FIGURES)
def test_each_figure_takes_exactly_what_its_schema_states(schema, component, serializer, name):
    field = serializer().fields[name]
    described = schema["components"]["schemas"][component]["properties"][name]
    validator = jsonschema.Draft4Validator(described)
    disagreements = [
        value
        for value in candidates(field)
        if value is not None and validator.is_valid(value) != server_takes(field, value)
    ]
    assert not disagreements, disagreements[:20]
    assert not validator.is_valid("") and not server_takes(field, "")
    assert validator.is_valid(str(field.high)) and server_takes(field, str(field.high))


def test_a_figure_out_of_form_is_a_400_naming_the_field(api, staff, patient):
    today = patient.clinic.today().isoformat()
    for weight in ("", "0.0", "-60", 60.5, "6000"):
        response = api(staff).post(
            f"/api/v1/patients/{patient.pk}/visits/",
            {"visited_on": today, "phq2": 0, "weight_kg": weight},
            format="json",
        )
        assert response.status_code == 400, weight
        assert "from 20 to 300" in response.json()["weight_kg"][0], weight
    response = api(staff).post(
        f"/api/v1/patients/{patient.pk}/visits/",
        {"visited_on": today, "phq2": 0, "weight_kg": 61},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["weight_kg"] == "61.0"


@pytest.mark.parametrize("path", ["/api/v1/worklist/", "/api/v1/patients/{id}/status/"])
def test_an_empty_on_parameter_is_a_400_naming_it_as_the_schema_says(api, staff, patient, path):
    url = path.format(id=patient.pk)
    response = api(staff).get(url, {"on": ""})
    assert response.status_code == 400
    assert "on" in response.json()
    assert api(staff).get(url).status_code == 200


def test_a_format_parameter_changes_nothing(api, staff, patient):
    """DRF's ?format= override is not in the schema: it is ignored like any unknown parameter."""
    for value in ("", "json", "xml", "fhir", "api"):
        response = api(staff).get(f"/api/v1/patients/{patient.pk}/", {"format": value})
        assert response.status_code == 200, value
        assert response["Content-Type"] == "application/json", value
    fhir = api(staff).get(f"/api/v1/patients/{patient.pk}/fhir/", HTTP_ACCEPT="text/csv")
    assert fhir.status_code == 406


def test_every_operation_describes_its_406(schema):
    missing = [
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "406" not in operation["responses"]
    ]
    assert not missing


def test_evidence_is_described_as_a_file(schema):
    request = schema["paths"]["/api/v1/patients/{id}/pregnancy-tests/"]["post"]["requestBody"]
    ref = request["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    evidence = schema["components"]["schemas"][ref]["properties"]["evidence"]
    assert (evidence["type"], evidence["format"]) == ("string", "binary")


def test_no_operation_offers_a_format_parameter(schema):
    offered = [
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if any(p["name"] == "format" for p in operation.get("parameters", []))
    ]
    assert not offered
