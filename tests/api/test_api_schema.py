"""The OpenAPI schema validates, has no generator warnings and describes every endpoint."""

import yaml
from django.core.management import call_command

SECTION_8 = {
    ("post", "/api/v1/auth/token/"),
    ("delete", "/api/v1/auth/token/"),
    ("post", "/api/v1/patients/"),
    ("get", "/api/v1/patients/{id}/"),
    ("post", "/api/v1/patients/{id}/consents/"),
    ("post", "/api/v1/patients/{id}/contraception/"),
    ("post", "/api/v1/patients/{id}/pregnancy-tests/"),
    ("post", "/api/v1/patients/{id}/labs/"),
    ("post", "/api/v1/patients/{id}/visits/"),
    ("get", "/api/v1/patients/{id}/status/"),
    ("post", "/api/v1/patients/{id}/prescriptions/"),
    ("post", "/api/v1/prescriptions/{id}/dispense/"),
    ("post", "/api/v1/patients/{id}/end-treatment/"),
    ("post", "/api/v1/visits/{id}/mood-review/"),
    ("post", "/api/v1/pregnancy-tests/{id}/supersede/"),
    ("get", "/api/v1/patients/{id}/reminders/"),
    ("get", "/api/v1/patients/{id}/fhir/"),
    ("get", "/api/v1/patients/{id}/consents/"),
    ("get", "/api/v1/patients/{id}/contraception/"),
    ("get", "/api/v1/patients/{id}/pregnancy-tests/"),
    ("get", "/api/v1/patients/{id}/labs/"),
    ("get", "/api/v1/patients/{id}/visits/"),
    ("get", "/api/v1/patients/{id}/prescriptions/"),
    ("post", "/api/v1/patients/{id}/risk-category/"),
    ("post", "/api/v1/patients/{id}/courses/"),
    ("get", "/api/v1/worklist/"),
}


def generated_schema(tmp_path) -> dict:
    target = tmp_path / "schema.yaml"
    # --validate checks it against the OpenAPI 3 meta-schema; --fail-on-warn raises on any
    # generator warning (an undescribed body, a colliding enum name, an untyped parameter).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def test_the_schema_validates_and_has_exactly_the_endpoints_of_section_8(tmp_path, db):
    schema = generated_schema(tmp_path)
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == SECTION_8


def test_every_operation_describes_its_refusals(tmp_path, db):
    paths = generated_schema(tmp_path)["paths"]
    prescriptions = paths["/api/v1/patients/{id}/prescriptions/"]["post"]["responses"]
    assert set(prescriptions) == {"201", "400", "401", "403", "404", "406", "409"}
    assert prescriptions["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RefusedOut"
    }
    status = paths["/api/v1/patients/{id}/status/"]["get"]
    assert [p["name"] for p in status["parameters"]] == ["X-Clinic-Id", "id", "on"]
    for path, item in paths.items():
        for method, operation in item.items():
            if path != "/api/v1/auth/token/":
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if method == "post":
                assert "400" in operation["responses"], path
                assert "requestBody" in operation, path


def test_the_schema_is_served_to_a_signed_in_user_and_not_to_anyone_else(api, staff):
    assert api().get("/api/v1/schema/").status_code == 401
    response = api(staff).get("/api/v1/schema/")
    assert response.status_code == 200
    assert "/api/v1/patients/{id}/status/" in response.content.decode()


def test_the_status_date_pattern_is_exactly_the_range_the_server_accepts():
    import datetime
    import re

    from api.serializers import (
        EARLIEST_STATUS_DATE,
        LATEST_STATUS_DATE,
        STATUS_DATE_PATTERN,
    )

    one = datetime.timedelta(days=1)
    for accepted in (EARLIEST_STATUS_DATE, LATEST_STATUS_DATE, datetime.date(2026, 2, 28)):
        assert re.match(STATUS_DATE_PATTERN, accepted.isoformat()), accepted
    for refused in (EARLIEST_STATUS_DATE - one, LATEST_STATUS_DATE + one, datetime.date(1, 1, 1)):
        assert not re.match(STATUS_DATE_PATTERN, refused.isoformat()), refused


def test_text_patterns_say_what_the_server_refuses(tmp_path, db):
    import re

    components = generated_schema(tmp_path)["components"]["schemas"]
    reason = components["RiskCategoryIn"]["properties"]["reason"]
    assert reason["maxLength"] == 300
    assert re.search(reason["pattern"], "Reassessed") and not re.search(reason["pattern"], "  ")
    clinic = generated_schema(tmp_path)["paths"]["/api/v1/patients/{id}/"]["get"]["parameters"][0]
    assert clinic["name"] == "X-Clinic-Id"
    assert clinic["schema"] == {"type": "string", "pattern": "^[0-9]{1,18}$"}
    phq2 = components["VisitIn"]["properties"]["phq2"]
    assert (phq2["minimum"], phq2["maximum"]) == (0, 6)
