from django.urls import path

from keiyaku.applications import views

urlpatterns = [
    path(
        "contracts/<uuid:contract_id>/applications/",
        views.application_send,
        name="application-send",
    ),
    path("a/<str:token>/", views.application_form, name="application-form"),
]
