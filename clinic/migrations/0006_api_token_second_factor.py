"""Record on each API token whether a second factor was checked when it was issued.

Tokens issued before this migration are marked False: which of them came with a code is not
known, so a clinician's or clinic admin's existing token is refused and they ask for a new one
with `otp` (a token lasts API_TOKEN_HOURS at most anyway). Staff tokens keep working.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0005_drop_unused_knox_table'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='issued_with_second_factor',
            field=models.BooleanField(default=False),
        ),
    ]
