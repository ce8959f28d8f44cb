from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"
