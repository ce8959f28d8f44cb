from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
