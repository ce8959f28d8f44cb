from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.contracts"
    label = "contracts"
    default_auto_field = "django.db.models.BigAutoField"
