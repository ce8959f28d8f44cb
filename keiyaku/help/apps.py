from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.help"
    label = "help"
