from django.apps import AppConfig


class CounterpartyAccountsConfig(AppConfig):
    """A counterparty's free account (R3): sign-in by a one-time e-mailed link, optional TOTP,
    the contracts its address signed with any organisation."""

    name = "keiyaku.counterparty_accounts"
    default_auto_field = "django.db.models.BigAutoField"
