from django.urls import path

from . import views

app_name = "pki"

urlpatterns = [
    path("tsa", views.tsa, name="tsa"),
    path("crl", views.crl, name="crl"),
    path("ocsp", views.ocsp_post, name="ocsp"),
    path("ocsp/<path:encoded>", views.ocsp_get, name="ocsp-get"),
    path("root.crt", views.root_certificate, name="root-crt"),
]
