"""The link in the welcome e-mail to a new staff member, to choose a first password.

Like Django's password-reset token (HMAC over the user's password hash and last login, so it
works once), with its own salt and a lifetime in days: a reset is asked for by the person who
then reads the mail at once, an account is made by an administrator for someone who may read
the mail next week.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class WelcomeTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "keiyaku.accounts.tokens.WelcomeTokenGenerator"

    def check_token(self, user: Any, token: str | None) -> bool:
        if not (user and token):
            return False
        stamp, _, _ = str(token).partition("-")
        try:
            made = base36_to_int(stamp)
        except ValueError:
            return False
        if self._num_seconds(self._now()) - made > settings.KEIYAKU_WELCOME_LINK_DAYS * 86400:
            return False
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, made, secret), token)
            for secret in (self.secret, *self.secret_fallbacks)
        )


welcome_tokens = WelcomeTokenGenerator()
