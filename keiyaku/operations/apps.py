from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running keiyaku: the web server, configuration checks, health, logs, the operator page."""

    name = "keiyaku.operations"
    label = "operations"

    def ready(self) -> None:
        from keiyaku.operations import checks  # noqa: F401 - registers the system checks
