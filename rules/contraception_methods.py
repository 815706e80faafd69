"""The one registry of contraception methods: each method's label, its words in a sentence, its
tier as the rules count it and its name on iPLEDGE's list (docs/domain.md section 4).

Plain data inside the rules package because the rules read the tiers and the words; every other
reader takes the rest from the same entries: the model's choices
(patients.models.ContraceptionMethod), the staff forms' groups, the iPLEDGE entry sheet
(rules/ipledge.py) and the patient's self-service page, which shows the label in the
patient's language (monitoring/self_service.py). tests/patients/test_contraception_methods.py
fails when a method of the model has no entry or an entry lacks a column.
"""

from __future__ import annotations

from dataclasses import dataclass

from .text import gettext_noop

# The tiers (docs/domain.md section 4): a confirmation counts with two distinct acceptable
# methods of which at least one is primary.
PRIMARY = "primary"
SECONDARY = "secondary"
# May be recorded, never counts, and the forms warn.
UNACCEPTABLE = "unacceptable"
TIERS = (PRIMARY, SECONDARY, UNACCEPTABLE)


@dataclass(frozen=True)
class Method:
    code: str
    # The forms' label; the patient's page shows it translated (locale/), so it is marked here.
    label: str
    words: str  # within a staff sentence: "partner's vasectomy", "IUD"
    tier: str
    # As the iPLEDGE program's list names it, for the entry sheet; None for a method that never
    # counts (it is never entered).
    ipledge_name: str | None

    @property
    def counts(self) -> bool:
        return self.tier != UNACCEPTABLE


# In the forms' order (the model's choices keep it too).
CONTRACEPTION_METHODS: dict[str, Method] = {
    m.code: m
    for m in (
        Method(
            "tubal_sterilization",
            gettext_noop("Tubal sterilization"),
            "tubal sterilization",
            PRIMARY,
            "Tubal sterilization",
        ),
        Method(
            "partner_vasectomy",
            gettext_noop("Partner's vasectomy"),
            "partner's vasectomy",
            PRIMARY,
            "Partner's vasectomy",
        ),
        Method(
            "iud",
            gettext_noop("Intrauterine device (IUD)"),
            "IUD",
            PRIMARY,
            "Intrauterine device (IUD)",
        ),
        Method(
            "combined_oral_contraceptive",
            gettext_noop("Combined oral contraceptive"),
            "combined oral contraceptive",
            PRIMARY,
            "Hormonal - combination birth control pills",
        ),
        Method(
            "transdermal_patch",
            gettext_noop("Transdermal patch"),
            "transdermal patch",
            PRIMARY,
            "Hormonal - skin patch",
        ),
        Method(
            "injectable",
            gettext_noop("Injectable"),
            "injectable",
            PRIMARY,
            "Hormonal - shot/injection",
        ),
        Method(
            "implant",
            gettext_noop("Implant"),
            "implant",
            PRIMARY,
            "Hormonal - implant",
        ),
        Method(
            "vaginal_ring",
            gettext_noop("Vaginal ring"),
            "vaginal ring",
            PRIMARY,
            "Hormonal - vaginal ring",
        ),
        Method(
            "male_condom",
            gettext_noop("Male condom"),
            "male condom",
            SECONDARY,
            "Barrier - male latex condom",
        ),
        Method(
            "diaphragm_with_spermicide",
            gettext_noop("Diaphragm with spermicide"),
            "diaphragm with spermicide",
            SECONDARY,
            "Barrier - diaphragm with spermicide",
        ),
        Method(
            "cervical_cap_with_spermicide",
            gettext_noop("Cervical cap with spermicide"),
            "cervical cap with spermicide",
            SECONDARY,
            "Barrier - cervical cap with spermicide",
        ),
        Method(
            "vaginal_sponge",
            gettext_noop("Vaginal sponge"),
            "vaginal sponge",
            SECONDARY,
            "Other - vaginal sponge",
        ),
        Method(
            "progestin_only_pill",
            gettext_noop("Progestin-only pill (does not count)"),
            "progestin-only pill",
            UNACCEPTABLE,
            None,
        ),
    )
}


def methods_of(tier: str) -> frozenset[str]:
    """The codes of one tier."""
    return frozenset(m.code for m in CONTRACEPTION_METHODS.values() if m.tier == tier)
