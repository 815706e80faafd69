"""Wrong second-factor codes counted per (user, client address) and per user over every address
(clinic/throttle.py), in place of django-otp's throttle per device."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0006_api_token_second_factor'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SecondFactorFailures',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('client_address', models.CharField(blank=True, max_length=64)),
                ('failures', models.PositiveIntegerField(default=0)),
                ('first_failure_at', models.DateTimeField()),
                ('last_failure_at', models.DateTimeField()),
                ('alerted', models.BooleanField(default=False)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'client_address'), name='one_failure_count_per_user_and_address')],
            },
        ),
    ]
