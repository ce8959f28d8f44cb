from django.urls import path

from keiyaku.accounts import views
from keiyaku.api import screens as api_screens
from keiyaku.web.views.exports import organisation_export

app_name = "orgadmin"

urlpatterns = [
    path("", views.staff_list, name="staff-list"),
    path("staff/new/", views.staff_create, name="staff-create"),
    path("staff/<int:staff_id>/", views.staff_edit, name="staff-edit"),
    path("staff/import/", views.staff_import, name="staff-import"),
    path("staff/import/apply/", views.staff_import_apply, name="staff-import-apply"),
    path("staff/export.csv", views.staff_export, name="staff-export"),
    path("staff/import/template.csv", views.staff_import_template, name="staff-import-template"),
    path("departments/", views.department_list, name="department-list"),
    path("departments/<int:department_id>/", views.department_edit, name="department-edit"),
    path("settings/", views.organisation_settings, name="settings"),
    path("settings/contact/", views.contact_edit, name="contact"),
    path(
        "departments/<int:department_id>/contact/",
        views.contact_edit,
        name="department-contact",
    ),
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("export/", organisation_export, name="organisation-export"),
    path("organisations/", views.organisation_list, name="organisation-list"),
    path("api-tokens/", api_screens.api_token_list, name="api-token-list"),
    path(
        "api-tokens/<int:token_id>/revoke/",
        api_screens.api_token_revoke_view,
        name="api-token-revoke",
    ),
]
