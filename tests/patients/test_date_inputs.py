"""A date error on one form must not mark the date inputs of every later form invalid.

Crispy adds `is-invalid` to the widget's attributes when a field has an error: a widget
instance shared between forms carried that class to every form rendered afterwards.
"""

import datetime
import re

import pytest
from django.urls import reverse


def _date_inputs(html: str) -> list[str]:
    return re.findall(r'<input type="date"[^>]*>', html)


@pytest.mark.django_db
def test_a_date_error_on_one_form_leaves_other_forms_valid(client, staff, patient):
    client.force_login(staff)
    tomorrow = patient.clinic.today() + datetime.timedelta(days=1)
    refused = client.post(
        reverse("patients:consent_create", args=[patient.pk]),
        {"kind": "birth_defects", "signed_on": tomorrow.isoformat()},
    )
    assert refused.status_code == 200
    assert any("is-invalid" in tag for tag in _date_inputs(refused.content.decode()))

    for name in ("patients:consent_create", "patients:test_create", "monitoring:lab_create"):
        fresh = client.get(reverse(name, args=[patient.pk])).content.decode()
        inputs = _date_inputs(fresh)
        assert inputs, name
        assert not any("is-invalid" in tag for tag in inputs), (name, inputs)


def test_each_form_has_its_own_date_widget():
    from monitoring.forms import LabForm
    from patients.forms import ConsentForm

    first, second = ConsentForm(), LabForm()
    assert first.fields["signed_on"].widget is not second.fields["collected_on"].widget
    first.fields["signed_on"].widget.attrs["class"] = "is-invalid"
    assert "is-invalid" not in LabForm().fields["collected_on"].widget.attrs.get("class", "")
