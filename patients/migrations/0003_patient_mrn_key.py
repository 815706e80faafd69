"""The MRN key (issue 20, docs/security.md "Text and identities"): MRNs that differ only in
case, width (fullwidth letters), surrounding spaces or zero-width characters name one patient,
and a unique constraint on (clinic, mrn_key) now says so (built without blocking writes by
0004_mrn_key_unique).

Patients enrolled twice under such MRNs before this migration cannot both take the plain key.
The lowest id keeps it; each other one gets the key followed by " [duplicate <its id>]", so
every row stays distinct, and the migration prints the clinic and the patient ids of each such
group (never the MRN, which identifies a patient). Staff then merge or correct them: saving the
patient again with an MRN that still collides is refused with a form error on the MRN.
"""

import sys
import unicodedata

import clinic.text
import patients.models
from django.conf import settings
from django.db import migrations, models

# A copy of clinic.text.mrn_key as it was when this migration was written: a migration
# must give the same keys whatever that function becomes.
_ZERO_WIDTH = {code: None for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)}
_KEY_MAX = 160
_MARK = " [duplicate "


def _key(mrn):
    value = unicodedata.normalize("NFKC", str(mrn).translate(_ZERO_WIDTH))
    return unicodedata.normalize("NFKC", value.casefold()).strip()


def fill_keys(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    groups = {}
    for pk, clinic_id, mrn in Patient.objects.order_by("pk").values_list("pk", "clinic_id", "mrn"):
        groups.setdefault((clinic_id, _key(mrn)[:_KEY_MAX]), []).append(pk)
    for (clinic_id, key), pks in groups.items():
        Patient.objects.filter(pk=pks[0]).update(mrn_key=key)
        for pk in pks[1:]:
            mark = f"{_MARK}{pk}]"
            Patient.objects.filter(pk=pk).update(mrn_key=key[: _KEY_MAX - len(mark)] + mark)
        if len(pks) > 1:
            sys.stdout.write(
                f"\n  MRN collision in clinic {clinic_id}: patients {', '.join(map(str, pks))}"
                f" share one MRN once case, width and invisible characters are set aside. Patient"
                f" {pks[0]} keeps the MRN key; the others' keys are marked '[duplicate <id>]'"
                " until staff merge or correct them."
            )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_patient_preferred_language"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="patient",
            name="mrn_unique_in_clinic",
        ),
        migrations.AddField(
            model_name="patient",
            name="mrn_key",
            field=patients.models.MrnKeyField(default="", editable=False, max_length=160),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="email",
            field=models.EmailField(max_length=254, validators=[clinic.text.TextValidator()]),
        ),
        migrations.AlterField(
            model_name="patient",
            name="family_name",
            field=clinic.text.NameField(max_length=100),
        ),
        migrations.AlterField(
            model_name="patient",
            name="given_name",
            field=clinic.text.NameField(max_length=100),
        ),
        migrations.AlterField(
            model_name="patient",
            name="ipledge_id",
            field=models.CharField(
                blank=True,
                max_length=40,
                validators=[clinic.text.TextValidator()],
                verbose_name="iPLEDGE ID",
            ),
        ),
        migrations.AlterField(
            model_name="patient",
            name="mrn",
            field=models.CharField(
                max_length=40, validators=[clinic.text.TextValidator()], verbose_name="MRN"
            ),
        ),
        migrations.AlterField(
            model_name="patient",
            name="phone",
            field=models.CharField(
                blank=True, max_length=40, validators=[clinic.text.TextValidator()]
            ),
        ),
        migrations.AlterField(
            model_name="patient",
            name="risk_category_reason",
            field=models.CharField(
                max_length=300, validators=[clinic.text.TextValidator(multi_line=True)]
            ),
        ),
        migrations.AlterField(
            model_name="pregnancytest",
            name="superseded_reason",
            field=models.CharField(
                blank=True,
                max_length=300,
                validators=[clinic.text.TextValidator(multi_line=True)],
            ),
        ),
        migrations.AlterField(
            model_name="riskcategorychange",
            name="reason",
            field=models.CharField(
                max_length=300, validators=[clinic.text.TextValidator(multi_line=True)]
            ),
        ),
    ]
