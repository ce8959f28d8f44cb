from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.storage"
    label = "storage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keiyaku.storage import checks, master_key_checks  # noqa: F401 - deploy checks
