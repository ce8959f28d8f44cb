from django.apps import AppConfig


class LoginConfig(AppConfig):
    """Staff login: passwords, lockout, TOTP, OpenID Connect, idle timeout (R37).

    The app label stays "signin", the package's earlier name, so that existing databases keep
    their tables and migration history.
    """

    name = "keiyaku.login"
    label = "signin"
    default_auto_field = "django.db.models.BigAutoField"
