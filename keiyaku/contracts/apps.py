from django.apps import AppConfig


class Config(AppConfig):
    name = "keiyaku.contracts"
    label = "contracts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from keiyaku.contracts.search_index import search_index_connect

        search_index_connect()
