from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "keiyaku.signing"
    label = "signing"
    verbose_name = "署名"
