"""Deeply nested or oversized JSON is refused with a 4xx naming the problem, never a 500, on
every endpoint that reads a body, the unauthenticated token endpoint included."""

import pytest

from api import urls
from api.parsers import MAX_JSON_DEPTH
from tests.builders import ready_first_prescription


def post_urls(ids):
    """Every API route with a POST, its <id> filled with a real object of the tester's clinic."""
    found = []
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class
        if not hasattr(view, "post"):
            continue
        route = str(pattern.pattern)
        kind = route.split("/")[0]
        found.append("/api/v1/" + route.replace("<int:id>", str(ids.get(kind, ids["patients"]))))
    return found


@pytest.fixture
def ids(builder, patient):
    ready_first_prescription(builder, patient)
    return {
        "patients": patient.pk,
        "prescriptions": builder.prescribe(patient, 0).pk,
        "visits": builder.visit(patient, 0).pk,
        "pregnancy-tests": builder.test(patient, "monthly", 0, result="positive").pk,
    }


def nested(levels: int, kind: str = "array") -> str:
    if kind == "array":
        return "[" * levels + "]" * levels
    return '{"a":' * levels + "1" + "}" * levels


def test_the_routes_found_include_the_token_and_every_record(ids):
    found = post_urls(ids)
    assert "/api/v1/auth/token/" in found
    assert f"/api/v1/patients/{ids['patients']}/pregnancy-tests/" in found
    assert f"/api/v1/visits/{ids['visits']}/mood-review/" in found
    assert len(found) >= 14


@pytest.mark.parametrize("kind", ["array", "object"])
def test_3000_levels_of_json_are_a_400_everywhere(api, clinician, ids, kind):
    body = nested(3000, kind)
    answers = {}
    for url in post_urls(ids):
        client = api() if url.endswith("/auth/token/") else api(clinician)
        response = client.post(url, body, content_type="application/json")
        answers[url] = (response.status_code, response["Content-Type"])
        assert "nested" in response.json()["detail"] or "JSON" in response.json()["detail"]
    assert set(answers.values()) == {(400, "application/json")}, answers


def test_the_token_endpoint_answers_400_to_deep_json_without_a_token(api, db):
    response = api().post("/api/v1/auth/token/", nested(3000), content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_body_at_the_depth_limit_reaches_the_fields(api, clinician, ids):
    url = f"/api/v1/patients/{ids['patients']}/consents/"
    at_limit = '{"kind": ' + nested(MAX_JSON_DEPTH - 1) + ', "signed_on": "2026-01-01"}'
    response = api(clinician).post(url, at_limit, content_type="application/json")
    assert response.status_code == 400
    assert "kind" in response.json()
    one_more = '{"kind": ' + nested(MAX_JSON_DEPTH) + ', "signed_on": "2026-01-01"}'
    response = api(clinician).post(url, one_more, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["detail"]
    assert "nested" in response.json()["detail"]


def test_a_json_body_larger_than_the_server_reads_is_a_413(api, clinician, ids, settings):
    url = f"/api/v1/patients/{ids['patients']}/labs/"
    body = '{"unit": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = api(clinician).post(url, body, content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.json()
