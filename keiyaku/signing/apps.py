from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "keiyaku.signing"
    label = "signing"
    verbose_name = "署名"

    def ready(self) -> None:
        from keiyaku.signing import checks  # noqa: F401 - deploy checks
