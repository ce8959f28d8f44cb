from django.urls import include, path

from keiyaku.api.v1 import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("pki/", include("keiyaku.pki.urls")),
    path("admin-org/webhooks/", include("keiyaku.webhooks.urls")),
    path("admin-org/", include("keiyaku.accounts.urls")),
    path("", include("keiyaku.operations.urls")),
    path("", include("keiyaku.help.urls")),
    path("addressbook/", include("keiyaku.addressbook.urls")),
    path("", include("keiyaku.applications.urls")),
    path("", include("keiyaku.login.urls")),
    path("counterparty/", include("keiyaku.counterparty_accounts.urls")),
    path("", include("keiyaku.web.urls")),
]

# Django's refusals of a request body (too many files, fields too large) with their reason.
handler400 = "keiyaku.web.upload_limits.bad_request"
