from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "keiyaku.pki"
    label = "pki"
    verbose_name = "PKI"
