"""P4: a clinic's day as locust users, reads and writes, against gunicorn with production
settings (bench/run.py starts both).

Each simulated user is a browser behind the TLS proxy: its own verified session (logged in and
past the second factor, made by bench/django_side.py) and CSRF cookie, sent by hand in a Cookie
header (they are Secure cookies: a client on plain HTTP would keep them to itself), the proxy's
`X-Forwarded-Proto: https` and the site's host name. It opens Today and a group's page, patient
pages, the patient list, searches (the search form's POST, then its results), the API status,
and records lab results and monthly visits through the real forms (the form page first, for its
CSRF token; then the POST).

Redirects are never followed. A successful form's POST answers 302 to the page it names (the
patient page, the new visit, the search results): that is a success. Any other answer outside
2xx, a redirect to the login or the second-factor page, or a form sent back with errors, is a
failure, recorded with its status.

Environment: BENCH_SESSIONS (the sessions' JSON file), BENCH_IDS (patients to view and to
write for, JSON), BENCH_FACTS (the group, search term and host, JSON), BENCH_WAIT (min,max
seconds between actions), BENCH_STAGES (optional JSON [[users, seconds], ...]: a step load),
BENCH_LOCUST_OUT (where every request's outcome is written as JSON when the run ends).
"""

# ruff: noqa: S311 - which synthetic patient a simulated user opens next

import itertools
import json
import os
import random
import re
import time
from html.parser import HTMLParser
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

from locust import HttpUser, LoadTestShape, between, events, task

LOGINS = json.loads(Path(os.environ["BENCH_SESSIONS"]).read_text())
IDS = json.loads(Path(os.environ["BENCH_IDS"]).read_text())
FACTS = json.loads(Path(os.environ["BENCH_FACTS"]).read_text())
WAIT = [float(x) for x in os.environ.get("BENCH_WAIT", "2,5").split(",")]
STAGES = json.loads(os.environ.get("BENCH_STAGES") or "[]")
RECORDS: list[tuple] = []
STARTED: list[float] = []
NUMBERS = itertools.count()
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REFUSED = ("/login/", "/account/")  # the login, the second factor, choosing a clinic


@events.test_start.add_listener
def started(environment, **kwargs):
    STARTED.append(time.time())


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception, **kwargs):
    response = kwargs.get("response")
    status = getattr(response, "status_code", None) if response is not None else None
    RECORDS.append(
        (name, response_time, exception is None, status, time.time(), str(exception or "")[:200])
    )


@events.quitting.add_listener
def write(environment, **kwargs):
    out = {"started": STARTED[0] if STARTED else None, "records": RECORDS}
    Path(os.environ["BENCH_LOCUST_OUT"]).write_text(json.dumps(out))


class FormFields(HTMLParser):
    """The fields a browser would send for the page's own form (posted to the page's address:
    no action, or `path`; the navigation's forms post elsewhere): each input's value, checked
    boxes only, each select's selected option, each textarea's text."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.fields: list[tuple[str, str]] = []
        self.in_form = self.done = False
        self.select: str | None = None
        self.selected: str | None = None
        self.first_option: str | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post" and not self.done:
            self.in_form = (a.get("action") or self.path) == self.path
        if not self.in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button", "file"):
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self.select, self.selected, self.first_option = name, None, None
        elif tag == "option" and self.select:
            value = a.get("value") or ""
            if self.first_option is None:
                self.first_option = value
            if "selected" in a:
                self.selected = value
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_data(self, data):
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form, self.done = False, True
        elif tag == "select" and self.select:
            chosen = self.selected if self.selected is not None else self.first_option
            self.fields.append((self.select, chosen or ""))
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, self.text.strip("\n")))
            self.textarea = None


def form_fields(html: str, path: str) -> dict:
    parser = FormFields(path)
    parser.feed(html)
    return dict(parser.fields)


class ClinicUser(HttpUser):
    wait_time = between(*WAIT)

    def on_start(self):
        login = LOGINS["users"][next(NUMBERS) % len(LOGINS["users"])]
        # Nothing the server sets is kept: the cookies go by hand (they are Secure).
        self.client.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        proxy = {"Host": FACTS["host"], "X-Forwarded-Proto": "https"}
        self.web = {
            **proxy,
            "Cookie": f"{LOGINS['session_cookie']}={login['session']}; "
            f"{LOGINS['csrf_cookie']}={login['csrf']}",
        }
        self.api = {**proxy, "Authorization": f"Token {login['token']}"}
        self.origin = f"https://{FACTS['host']}"
        self.token = None

    # One request, its answer judged -------------------------------------------------------------
    def get(self, path, name, *, api=False):
        headers = self.api if api else self.web
        with self.client.get(
            path, headers=headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if not 200 <= response.status_code < 300:
                where = response.headers.get("Location", "")
                response.failure(f"HTTP {response.status_code} {where}".strip())
                return None
            response.success()
            if not api and "text/html" in response.headers.get("Content-Type", ""):
                found = TOKEN.search(response.text)
                self.token = found.group(1) if found else self.token
            return response

    def post(self, path, data, name, *, redirect_to) -> str | None:
        """A form's POST: a 302 to a page that `redirect_to(location)` accepts is the success."""
        headers = {**self.web, "Origin": self.origin, "Referer": self.origin + path}
        data = {**data, "csrfmiddlewaretoken": self.token}
        with self.client.post(
            path, data=data, headers=headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            where = response.headers.get("Location", "")
            if response.status_code == 302 and redirect_to(where) and not where.startswith(REFUSED):
                response.success()
                return where
            page = response.text or ""
            errors = re.findall(r'data-error-for="([^"]+)"[^>]*>([^<]*)<', page)
            errors += re.findall(r'id="form-errors"><div>([^<]*)<', page)
            response.failure(f"HTTP {response.status_code} {where} {errors[:3]}".strip())
            return None

    # What a clinic's staff do ---------------------------------------------------------------------
    @task(4)
    def today(self):
        self.get("/today/", "Today")

    @task(1)
    def today_group(self):
        self.get(f"/today/?group={FACTS['group']}&page=2", "Today group page 2")

    @task(4)
    def patient_page(self):
        self.get(f"/patients/{random.choice(IDS['view'])}/", "patient page")

    @task(2)
    def patient_list(self):
        self.get("/patients/", "patient list")

    @task(2)
    def api_status(self):
        self.get(f"/api/v1/patients/{random.choice(IDS['view'])}/status/", "API status", api=True)

    @task(1)
    def search(self):
        if self.token is None and self.get("/patients/", "patient list") is None:
            return
        where = self.post(
            "/patients/",
            {"q": FACTS["search"]},
            "search (POST)",
            redirect_to=lambda url: url.startswith("/patients/?"),
        )
        if where:
            self.get(where, "search results")

    @task(1)
    def record_lab(self):
        pk = random.choice(IDS["write"])
        page = self.get(f"/patients/{pk}/labs/new/", "lab form")
        if page is None:
            return
        fields = form_fields(page.text, f"/patients/{pk}/labs/new/")
        fields.update(kind="alt", value=str(random.randint(12, 40)), unit="")
        self.post(
            f"/patients/{pk}/labs/new/",
            fields,
            "lab form (POST)",
            redirect_to=lambda url: url == f"/patients/{pk}/",
        )

    @task(1)
    def record_visit(self):
        pk = random.choice(IDS["write"])
        page = self.get(f"/patients/{pk}/visits/new/", "visit form")
        if page is None:
            return
        fields = form_fields(page.text, f"/patients/{pk}/visits/new/")
        # A PHQ-2 of 0, the rest as the form comes (no weight: a random one would be a jump
        # the form asks to confirm).
        fields.update(phq2="0")
        self.post(
            f"/patients/{pk}/visits/new/",
            fields,
            "visit form (POST)",
            redirect_to=lambda url: url.startswith("/visits/"),
        )


if STAGES:

    class Steps(LoadTestShape):
        """More users at each stage (BENCH_STAGES), all of a stage's new users at once."""

        def tick(self):
            elapsed = self.get_run_time()
            for users, until in itertools.accumulate(
                STAGES, lambda done, stage: (stage[0], done[1] + stage[1])
            ):
                if elapsed < until:
                    return users, max(users, 1)
            return None
