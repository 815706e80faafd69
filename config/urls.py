from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

import patients.urls
from clinic import account, passwords, session_guard, team, twofactor, views
from monitoring import patient_views as patient_pages
from patients import views as patient_views

from . import health

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch-clinic/", views.switch_clinic, name="switch_clinic"),
    path("audit/", patient_views.audit_log, name="audit_log"),
    path("config/settings/", views.clinic_settings, name="clinic_settings"),
    path("health/", health.live, name="health"),
    path("health/live", health.live, name="health_live"),
    path("health/ready", health.ready, name="health_ready"),
    path("account/password/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path(
        "account/password/reset/",
        passwords.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "account/password/reset/sent/",
        passwords.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "account/password/reset/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "account/password/reset/done/",
        passwords.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("account/keep-alive/", session_guard.keep_alive, name="keep_alive"),
    path("account/session/", session_guard.session_status, name="session_status"),
    path("account/clinic/", account.choose_clinic, name="choose_clinic"),
    path("account/invite/<str:token>/", account.accept_invite, name="accept_invite"),
    path("account/two-factor/", twofactor.verify, name="otp_verify"),
    path("account/two-factor/setup/", twofactor.setup, name="otp_setup"),
    path("account/two-factor/backup-codes/", twofactor.backup_codes, name="otp_backup_codes"),
    path(
        "account/two-factor/passkey/",
        include((twofactor.passkey_urlpatterns, "otp_webauthn")),
    ),
    path("team/", team.team, name="team"),
    path("team/invite/", team.invite, name="team_invite"),
    path("team/<int:pk>/role/", team.set_role, name="team_role"),
    path("team/<int:pk>/deactivate/", team.deactivate, name="team_deactivate"),
    path("team/<int:pk>/reset-second-factor/", team.reset_otp, name="team_reset_otp"),
    path("team/<int:pk>/reactivate/", team.reactivate, name="team_reactivate"),
    path("team/<int:pk>/resend-invitation/", team.resend, name="team_resend"),
    path(
        "patients/",
        include((patient_pages.urlpatterns + patients.urls.urlpatterns, "patients")),
    ),
    path("api/v1/", include("api.urls")),
    path("p/", include("monitoring.self_service_urls")),
    path("reminders/", include("monitoring.reminder_urls")),
    path("", include("monitoring.urls")),
    path("admin/", admin.site.urls),
]
