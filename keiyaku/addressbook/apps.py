from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.addressbook"
    label = "addressbook"
    default_auto_field = "django.db.models.BigAutoField"
