"""The Django admin, for superusers only (docs/security.md).

Clinic admins manage their own clinic's members on the app's Team page; the admin's user and
membership lists span every clinic, so a clinic admin with the staff flag could add anyone to
their clinic or raise their own role. The clinic scoping below stays as a second line.

Writes to clinical records are not done here (they bypass the gate): clinical models are
read-only in the admin; enrollment and records are changed through the app's pages and API.
"""

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Clinic, Membership


def superusers_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superusers_only


def user_clinic_ids(request) -> list[int]:
    return list(request.user.memberships.values_list("clinic_id", flat=True))


class ClinicScopedAdmin(admin.ModelAdmin):
    """Filters by `clinic_lookup` to the clinics the user belongs to."""

    clinic_lookup = "clinic"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.clinic_lookup}__in": user_clinic_ids(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A non-superuser can only point records at their own clinics.
        if db_field.name == "clinic" and not request.user.is_superuser:
            kwargs["queryset"] = Clinic.objects.filter(pk__in=user_clinic_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyClinicalAdmin(ClinicScopedAdmin):
    """Clinical records are written only through services (which run the gate and audit)."""

    clinic_lookup = "patient__clinic"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    clinic_lookup = "pk"
    list_display = ["name", "time_zone", "rs2026_effective_on", "reminder_send_hour"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(ClinicScopedAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["role"]


# Audit events are read-only (auditlog's admin allows no edits) and scoped to the clinic.
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class ClinicLogEntryAdmin(LogEntryAdmin):
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(additional_data__clinic_id__in=user_clinic_ids(request))

    def has_delete_permission(self, request, obj=None):
        return False


# Accessibility (WCAG 2.2 AA, docs/accessibility.md): Django's two-box permission picker puts an
# aria-label on a role-less <span> (axe: aria-prohibited-attr, serious), so groups and users get
# the plain multiple select; an authenticator's throttling state, an unlabelled date-and-time
# pair (axe: label, critical), is shown read-only: the verifier writes it, nobody types it.
admin.site.unregister(Group)
admin.site.unregister(get_user_model())
admin.site.unregister(TOTPDevice)


@admin.register(Group)
class PlainGroupAdmin(GroupAdmin):
    filter_horizontal = ()


@admin.register(get_user_model())
class PlainUserAdmin(UserAdmin):
    filter_horizontal = ()


@admin.register(TOTPDevice)
class AuthenticatorAdmin(TOTPDeviceAdmin):
    readonly_fields = [
        *TOTPDeviceAdmin.readonly_fields,
        "throttling_failure_timestamp",
        "throttling_failure_count",
    ]
