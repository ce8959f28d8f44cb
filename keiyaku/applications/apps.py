from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.applications"
    label = "applications"
    default_auto_field = "django.db.models.BigAutoField"
