"""The release a clinic is running is on every page's footer, the same as config.__version__."""

import re
from pathlib import Path

from django.urls import reverse

import config


def footer(page: str) -> str:
    return re.search(r"<footer[^>]*>(.*?)</footer>", page, re.S).group(1).strip()


def test_the_login_page_footer_names_the_release(client, db):
    page = client.get(reverse("login")).content.decode()
    assert footer(page) == f"iPLEDGE clinic {config.__version__}"


def test_a_staff_page_footer_names_the_release(client_for, staff):
    page = client_for(staff).get(reverse("patients:list")).content.decode()
    assert footer(page) == f"iPLEDGE clinic {config.__version__}"


ROOT = Path(config.__file__).resolve().parents[1]


def test_the_release_is_the_newest_in_the_changelog_and_the_package_metadata():
    releases = re.findall(
        r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(), re.M
    )
    assert releases[0] == config.__version__
    assert f'version = "{config.__version__}"' in (ROOT / "pyproject.toml").read_text()
