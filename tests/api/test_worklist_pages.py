"""`GET /api/v1/worklist/` for integrators (DOMAIN section 8 of the design, docs/api.md): each
group's full count and a page of its patients, `?group=X&page=N` through one group, read from the
kept rows; another date computed only for a small clinic."""

import datetime

from monitoring import worklist
from tests import builders as states

ONE_DAY = datetime.timedelta(days=1)


def enroll_ready(builder, n):
    made = []
    for _ in range(n):
        patient = builder.enroll()
        states.ready(builder, patient)
        made.append(patient)
    return made


def group_of(body, key):
    (found,) = [g for g in body["groups"] if g["group"] == key]
    return found


def test_each_group_gives_its_count_and_one_page(api, staff, builder):
    made = enroll_ready(builder, 3)
    body = api(staff).get("/api/v1/worklist/", {"page_size": 2}).json()
    assert body["current"] is True
    key = next(g["group"] for g in body["groups"] if g["count"] == 3)
    first = group_of(body, key)
    assert len(first["patients"]) == 2 and first["page"] == 1 and first["previous"] is None
    assert all(part in first["next"] for part in (f"group={key}", "page=2", "page_size=2"))
    second = api(staff).get(first["next"]).json()
    assert [g["group"] for g in second["groups"]] == [key]
    page2 = group_of(second, key)
    assert page2["count"] == 3 and page2["next"] is None and page2["previous"]
    ids = [p["id"] for p in first["patients"] + page2["patients"]]
    assert sorted(ids) == sorted(p.pk for p in made)
    # Past the last page: no patients, the count unchanged.
    empty = api(staff).get("/api/v1/worklist/", {"group": key, "page": 9}).json()
    assert group_of(empty, key)["patients"] == [] and group_of(empty, key)["count"] == 3


def test_page_size_and_group_are_checked(api, staff, builder):
    enroll_ready(builder, 1)
    for params, field in (
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"page": 0}, "page"),
        ({"group": "nonsense"}, "group"),
        # Empty is not "none given": the schema says an integer or a group.
        ({"page_size": ""}, "page_size"),
        ({"page": ""}, "page"),
        ({"group": ""}, "group"),
    ):
        response = api(staff).get("/api/v1/worklist/", params)
        assert response.status_code == 400, params
        assert field in response.json(), params
    assert api(staff).get("/api/v1/worklist/", {"page_size": 500}).status_code == 200


def test_another_date_is_computed_for_a_small_clinic_only(api, staff, builder, monkeypatch):
    """A date with no kept rows is computed for the clinic's patients: allowed up to
    COMPUTE_LIMIT patients, a 400 naming `on` above it (never half a minute of work in a
    request). Today's and tomorrow's rows are kept: they answer whatever the clinic's size."""
    patient = enroll_ready(builder, 1)[0]
    today = patient.clinic.today()
    response = api(staff).get("/api/v1/worklist/", {"on": today + 5 * ONE_DAY})
    assert response.status_code == 200
    assert response.json()["as_of"] is None
    monkeypatch.setattr(worklist, "COMPUTE_LIMIT", 0)
    response = api(staff).get("/api/v1/worklist/", {"on": today + 5 * ONE_DAY})
    assert response.status_code == 400
    assert "on" in response.json()
    for on in (today, today + ONE_DAY):
        response = api(staff).get("/api/v1/worklist/", {"on": on})
        assert response.status_code == 200
        assert response.json()["as_of"] is not None


def test_the_answer_is_what_its_schema_serializer_writes(api, staff, builder):
    """The worklist is written as plain values for speed: it must equal what WorklistOut (the
    schema's description) makes of the same body."""
    from api.worklist import WorklistOut

    enroll_ready(builder, 2)
    body = api(staff).get("/api/v1/worklist/").json()
    assert any(g["patients"] for g in body["groups"])
    assert WorklistOut(body).data == body
    assert WorklistOut(data=body).is_valid(), WorklistOut(data=body).errors
