from django.urls import path

from keiyaku.help import views

urlpatterns = [
    path("help/ipaexg.ttf", views.manual_font, name="help-font"),
    path("help/<slug:slug>/", views.manual, name="help"),
]
