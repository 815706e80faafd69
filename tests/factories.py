"""Factories for tests. Patients are enrolled through the service, as in the app."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from clinic.models import Clinic, Membership
from monitoring import enrollment


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "America/New_York"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def member(clinic: Clinic, role: str, **user_fields):
    user = UserFactory(**user_fields)
    Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


_mrn = iter(range(100000, 10**7))


def enroll(clinic: Clinic, by=None, **overrides):
    data = {
        "mrn": f"MRN{next(_mrn)}",
        "given_name": "Alex",
        "family_name": "Example",
        "birth_date": datetime.date(2001, 5, 17),
        "email": "alex@example.org",
        "phone": "",
        "ipledge_id": "",
        "weight_kg": Decimal("60.0"),
        "risk_category": "can_get_pregnant",
        "risk_category_reason": "Assessed at enrollment",
        "enrolled_on": clinic.today() - datetime.timedelta(days=40),
        "home_tests_allowed": False,
    }
    data.update(overrides)
    return enrollment.enroll_patient(clinic=clinic, by=by, data=data)
