"""The load of `make rehearse` (ops/rehearse.py): staff at work through the proxy.

Each simulated user logs in as a staff member (staff need no second factor) through the login
form, gets an API token, then reads Today, the patient list and patient pages and records
consents through the API. Redirects are not followed: every answer but the login's own redirect
must be a 2xx. Each request's start, duration, status and outcome go to REHEARSE_LOCUST_OUT as
JSON when the run ends.
"""

# ruff: noqa: S311 - which synthetic patient a simulated user opens next

import datetime as dt
import itertools
import json
import os
import random
import re
import time

import urllib3
from locust import HttpUser, between, events, task

SETUP = json.loads(open(os.environ["REHEARSE_SETUP"]).read())  # noqa: SIM115, PTH123
RECORDS: list[tuple[str, float, float, int, bool]] = []
NUMBERS = itertools.count()
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the proxy's own certificate


@events.quitting.add_listener
def write(environment, **kwargs):
    with open(os.environ["REHEARSE_LOCUST_OUT"], "w") as out:  # noqa: PTH123
        json.dump(RECORDS, out)


class Staff(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.client.verify = False  # a self-signed certificate made for the run
        index = next(NUMBERS) % len(SETUP["staff"])
        self.log_in(SETUP["staff"][index])
        self.token = SETUP["tokens"][index]

    def log_in(self, username: str) -> None:
        page = self.call("GET", "/login/", "login form")
        token = CSRF_FIELD.search(page.text) if page is not None else None
        self.call(
            "POST",
            "/login/",
            "login",
            data={
                "username": username,
                "password": SETUP["password"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": f"{self.host}/login/"},
            # The login's success is a redirect away from the login page.
            ok=lambda r: r.status_code == 302 and "/login/" not in r.headers.get("Location", ""),
        )

    def call(self, method: str, path: str, name: str, ok=None, **kwargs):
        started = time.time()
        try:
            with self.client.request(
                method, path, name=name, allow_redirects=False, catch_response=True, **kwargs
            ) as response:
                good = ok(response) if ok else 200 <= response.status_code < 300
                if good:
                    response.success()
                else:
                    response.failure(f"answered {response.status_code}")
                RECORDS.append((name, started, time.time() - started, response.status_code, good))
                return response
        except Exception:  # the connection itself failed: a failure like any other
            RECORDS.append((name, started, time.time() - started, 0, False))
            return None

    @task(2)
    def today(self):
        self.call("GET", "/today/", "Today")

    @task(2)
    def patient_list(self):
        self.call("GET", "/patients/", "patient list")

    @task(3)
    def patient_page(self):
        self.call("GET", f"/patients/{random.choice(SETUP['read_patients'])}/", "patient page")

    @task(2)
    def record_consent(self):
        self.call(
            "POST",
            f"/api/v1/patients/{random.choice(SETUP['write_patients'])}/consents/",
            "record consent (API)",
            json={"kind": "birth_defects", "signed_on": dt.datetime.now(dt.UTC).date().isoformat()},
            headers={"Authorization": f"Token {self.token}"},
        )
