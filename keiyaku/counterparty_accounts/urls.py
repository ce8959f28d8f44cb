"""The counterparty account's pages, under /counterparty/ (R3); nothing here is a staff screen."""

from django.urls import path

from keiyaku.counterparty_accounts import views

app_name = "counterparty_accounts"

urlpatterns = [
    path("", views.start, name="start"),
    path("link/<str:token>/", views.signin_link, name="signin-link"),
    path("code/", views.totp_step, name="totp"),
    path("contracts/", views.contracts, name="contracts"),
    path(
        "contracts/<int:party_id>/documents/<int:document_id>.pdf",
        views.document_download,
        name="document",
    ),
    path(
        "contracts/<int:party_id>/certificate.pdf",
        views.certificate_download,
        name="certificate",
    ),
    path("security/", views.security, name="security"),
    path("sign-out/", views.sign_out, name="sign-out"),
]
