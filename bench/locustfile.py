"""P4: the mixed load of a clinic's day, Today included (BENCH_WITH_TODAY=0 leaves it out).

Each simulated user starts with a session and an API token of its own (made by
bench/django_side.py without a password hash each: logins are not the load), then opens Today,
the patient list, patient pages, the API status of a patient and a trivial page. Every
request's time and outcome is written to BENCH_LOCUST_OUT as JSON when the run ends, for
bench/run.py to summarise.
"""

# ruff: noqa: S311 - which synthetic patient a simulated user opens next

import itertools
import json
import os
import random

from locust import HttpUser, between, events, task

LOGINS = json.loads(open(os.environ["BENCH_SESSIONS"]).read())  # noqa: SIM115, PTH123
PATIENT_IDS = [int(pk) for pk in os.environ["BENCH_PATIENT_IDS"].split(",")]
WITH_TODAY = os.environ.get("BENCH_WITH_TODAY", "1") == "1"
RECORDS: list[tuple[str, float, bool]] = []
NUMBERS = itertools.count()


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception, **kwargs):
    RECORDS.append((name, response_time, exception is None))


@events.quitting.add_listener
def write(environment, **kwargs):
    with open(os.environ["BENCH_LOCUST_OUT"], "w") as out:
        json.dump(RECORDS, out)


class ClinicUser(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        index = next(NUMBERS) % len(LOGINS["sessions"])
        self.client.cookies.set(LOGINS["cookie"], LOGINS["sessions"][index])
        self.token = LOGINS["tokens"][index]

    @task(2)
    def today(self):
        if WITH_TODAY:
            self.client.get("/today/", name="today")
        else:
            self.patient_page()

    @task(2)
    def patient_list(self):
        self.client.get("/patients/", name="patient list")

    @task(3)
    def patient_page(self):
        self.client.get(f"/patients/{random.choice(PATIENT_IDS)}/", name="patient page")

    @task(2)
    def api_status(self):
        self.client.get(
            f"/api/v1/patients/{random.choice(PATIENT_IDS)}/status/",
            headers={"Authorization": f"Token {self.token}"},
            name="API status",
        )

    @task(1)
    def trivial(self):
        self.client.get("/patients/new/", name="trivial page")
