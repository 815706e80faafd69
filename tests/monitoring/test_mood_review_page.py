"""The mood review form shows what the clinician reviews, beside the review fields: the visit's
PHQ-2, PHQ-9 total, item 9's answer in the questionnaire's words, side effects and notes."""

import re

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from monitoring import services
from monitoring.models import MoodReview
from tests.builders import ready_first_prescription


def _visit(builder, patient, **data):
    ready_first_prescription(builder, patient, confirmation_on=-2)
    fields = {
        "visited_on": builder.day(-1),
        "weight_kg": None,
        "counseling_confirmed": True,
        "comprehension_completed": True,
        "phq2": 4,
        "phq9": 12,
        "phq9_item9": 1,
        "missed_dose_days": 0,
        "next_visit_on": None,
        "side_effects": {"dry_lips": "moderate", "headache": "mild"},
        "notes": "Sleeping badly since the exams.\nLives with a parent.",
    }
    fields.update(data)
    return services.record_visit(
        patient, by=builder.clinician, may_confirm_counseling=True, data=fields
    )


def _screen(response) -> str:
    """The text of the page's mood screen panel."""
    body = response.content.decode()
    panel = body[body.index('id="mood-screen"') : body.index('id="review-heading"')]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", panel))


@pytest.fixture
def review_page(client_for, clinician):
    client = client_for(clinician)

    def get(visit):
        response = client.get(reverse("monitoring:mood_review", args=[visit.pk]))
        assert response.status_code == 200
        return response

    return get


def test_the_form_shows_the_visits_mood_screen_beside_the_review_fields(builder, review_page):
    visit = _visit(builder, builder.enroll())
    response = review_page(visit)
    screen = _screen(response)
    assert "PHQ-2 4 of 6" in screen
    assert "PHQ-9 total 12 of 27 (moderate)" in screen
    assert "Several days (score 1)" in screen
    assert "Dry lips: moderate" in screen and "Headache: mild" in screen
    assert "Sleeping badly since the exams." in screen and "Lives with a parent." in screen
    body = response.content.decode()
    assert 'name="reviewed_on"' in body and 'name="note"' in body


@pytest.mark.parametrize(
    ("item9", "words"),
    [(1, "Several days"), (2, "More than half the days"), (3, "Nearly every day")],
)
def test_item_9_is_said_in_the_questionnaires_words(builder, review_page, item9, words):
    visit = _visit(builder, builder.enroll(), phq9_item9=item9)
    assert f"{words} (score {item9})" in _screen(review_page(visit))


def test_a_visit_without_side_effects_or_notes_says_so(builder, review_page):
    visit = _visit(builder, builder.enroll(), side_effects={}, notes="", phq9_item9=0, phq9=3)
    screen = _screen(review_page(visit))
    assert "Side effects None reported" in screen
    assert "Notes None" in screen
    assert "Not at all (score 0)" in screen
    assert "3 of 27 (minimal)" in screen


def test_the_page_is_audited_as_a_view_of_the_visit(builder, review_page):
    visit = _visit(builder, builder.enroll())
    before = LogEntry.objects.count()
    review_page(visit)
    assert LogEntry.objects.count() == before + 1


def test_a_refused_review_shows_the_screen_again(client_for, clinician, builder):
    visit = _visit(builder, builder.enroll())
    response = client_for(clinician).post(
        reverse("monitoring:mood_review", args=[visit.pk]), {"reviewed_on": "", "note": ""}
    )
    assert response.status_code == 200
    assert "Several days (score 1)" in _screen(response)
    assert not MoodReview.objects.exists()
