from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "keiyaku.signin"
    label = "signin"
    default_auto_field = "django.db.models.BigAutoField"
