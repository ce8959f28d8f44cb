from django.urls import path

from keiyaku.operations import views

# /healthz and /readyz are answered by keiyaku.operations.middleware, before sign-in.
urlpatterns = [
    path("operator/status/", views.operator_status, name="operator-status"),
    path("operator/notices/", views.maintenance_notices, name="operator-notices"),
    path(
        "operator/notices/<int:pk>/withdraw/",
        views.maintenance_notice_withdraw,
        name="operator-notice-withdraw",
    ),
]
