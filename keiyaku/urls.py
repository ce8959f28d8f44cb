from django.urls import include, path

urlpatterns = [
    path("pki/", include("keiyaku.pki.urls")),
    path("", include("keiyaku.web.urls")),
]
