"""The one registry of lab kinds: each kind's label, its units, what labs report in each unit,
its LOINC code per unit and whether it belongs to the baseline set (docs/domain.md section 4).

It is plain data inside the rules package because the gate reads two of its columns (the
baseline set and the kinds' names in a sentence); every other reader takes the rest from the
same entries: the model's choices (monitoring.models.LabKind), the lab form and the API's
checks (monitoring.services), the FHIR export (monitoring.fhir). A kind missing a column cannot
be written here, and tests/monitoring/test_lab_types.py fails when a kind of the model has no
entry. See docs/rules.md, "Lab values".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Unit:
    symbol: str  # as the pages show it and the database stores it
    ucum: str  # the UCUM code of the FHIR export's valueQuantity (UCUM writes micro as "u")
    # Other spellings labs print for the same unit, stored as `symbol`.
    aliases: tuple[str, ...] = ()


# Labs print "IU/L" for the same international unit per litre as "U/L".
U_PER_L = Unit("U/L", "U/L", aliases=("IU/L",))
UKAT_PER_L = Unit("µkat/L", "ukat/L")
MG_PER_DL = Unit("mg/dL", "mg/dL")
MMOL_PER_L = Unit("mmol/L", "mmol/L")


@dataclass(frozen=True)
class Measure:
    """A lab kind in one unit. LOINC codes a property: mass per volume (mg/dL) and moles per
    volume (mmol/L) are different codes; U/L and µkat/L are both catalytic concentration, one
    code.

    `low` and `high` bound what a lab's report falls in for a patient at a dermatology clinic.
    A value outside (the bounds themselves are ordinary) is more often a slip -- a digit too
    many, the other unit -- than a result, so it is saved only when confirmed. The mmol/L and
    µkat/L bounds are the mg/dL and U/L ones converted (1 µkat/L = 60 U/L; triglycerides
    1 mmol/L = 88.57 mg/dL; cholesterol 1 mmol/L = 38.67 mg/dL), rounded outward."""

    unit: Unit
    loinc: str
    loinc_display: str
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class LabType:
    kind: str
    label: str  # the choice's label: "Total cholesterol"
    name: str  # within a sentence: "total cholesterol"
    # Triglycerides, total cholesterol and ALT: needed in the 30 days before the first
    # prescription (the gate's baseline_labs_missing).
    baseline: bool
    # The first is the usual unit, taken when the form leaves the unit out.
    measures: tuple[Measure, ...]

    @property
    def usual_unit(self) -> str:
        return self.measures[0].unit.symbol

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(m.unit.symbol for m in self.measures)

    def measure(self, unit: str) -> Measure:
        """The entry of a stored unit (KeyError for a unit this kind is not recorded in)."""
        for m in self.measures:
            if m.unit.symbol == unit:
                return m
        raise KeyError(f"{self.kind} is not recorded in {unit}")

    def stored_unit(self, unit: str | None) -> str | None:
        """The unit a result given in `unit` is stored in (IU/L becomes U/L), or None."""
        unit = (unit or "").strip()
        for m in self.measures:
            if unit == m.unit.symbol or unit in m.unit.aliases:
                return m.unit.symbol
        return None

    @property
    def accepted_units(self) -> tuple[str, ...]:
        """Every spelling the form and the API take, the stored units first."""
        return self.units + tuple(a for m in self.measures for a in m.unit.aliases)


# The LOINC displays, each once: a code's words, whichever unit it is read in.
ALT_ACTIVITY = "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma"
AST_ACTIVITY = "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"

# In the order the gate names the baseline set ("triglycerides, total cholesterol and ALT");
# the form's choices keep the model's order.
LAB_TYPES: dict[str, LabType] = {
    t.kind: t
    for t in (
        LabType(
            "triglycerides",
            "Triglycerides",
            "triglycerides",
            baseline=True,
            measures=(
                Measure(
                    MG_PER_DL,
                    "2571-8",
                    "Triglyceride [Mass/volume] in Serum or Plasma",
                    Decimal(20),
                    Decimal(2000),
                ),
                Measure(
                    MMOL_PER_L,
                    "14927-8",
                    "Triglyceride [Moles/volume] in Serum or Plasma",
                    Decimal("0.22"),
                    Decimal("22.6"),
                ),
            ),
        ),
        LabType(
            "total_cholesterol",
            "Total cholesterol",
            "total cholesterol",
            baseline=True,
            measures=(
                Measure(
                    MG_PER_DL,
                    "2093-3",
                    "Cholesterol [Mass/volume] in Serum or Plasma",
                    Decimal(70),
                    Decimal(1000),
                ),
                Measure(
                    MMOL_PER_L,
                    "14647-2",
                    "Cholesterol [Moles/volume] in Serum or Plasma",
                    Decimal("1.81"),
                    Decimal("25.9"),
                ),
            ),
        ),
        LabType(
            "alt",
            "ALT",
            "ALT",
            baseline=True,
            measures=(
                Measure(U_PER_L, "1742-6", ALT_ACTIVITY, Decimal(3), Decimal(2000)),
                Measure(UKAT_PER_L, "1742-6", ALT_ACTIVITY, Decimal("0.05"), Decimal("33.4")),
            ),
        ),
        LabType(
            "ast",
            "AST",
            "AST",
            baseline=False,
            measures=(
                Measure(U_PER_L, "1920-8", AST_ACTIVITY, Decimal(3), Decimal(2000)),
                Measure(UKAT_PER_L, "1920-8", AST_ACTIVITY, Decimal("0.05"), Decimal("33.4")),
            ),
        ),
        LabType(
            "ldl",
            "LDL",
            "LDL",
            baseline=False,
            measures=(
                Measure(
                    MG_PER_DL,
                    "2089-1",
                    "Cholesterol in LDL [Mass/volume] in Serum or Plasma",
                    Decimal(10),
                    Decimal(900),
                ),
                Measure(
                    MMOL_PER_L,
                    "22748-8",
                    "Cholesterol in LDL [Moles/volume] in Serum or Plasma",
                    Decimal("0.25"),
                    Decimal("23.3"),
                ),
            ),
        ),
        LabType(
            "hdl",
            "HDL",
            "HDL",
            baseline=False,
            measures=(
                Measure(
                    MG_PER_DL,
                    "2085-9",
                    "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
                    Decimal(10),
                    Decimal(200),
                ),
                Measure(
                    MMOL_PER_L,
                    "14646-4",
                    "Cholesterol in HDL [Moles/volume] in Serum or Plasma",
                    Decimal("0.25"),
                    Decimal("5.2"),
                ),
            ),
        ),
    )
}
