from django.apps import AppConfig


class RateLimitsConfig(AppConfig):
    name = "keiyaku.ratelimits"
    label = "ratelimits"
    default_auto_field = "django.db.models.BigAutoField"
