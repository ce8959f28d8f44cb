"""The authentication back end for staff (Django's `AUTHENTICATION_BACKENDS`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from keiyaku.accounts.models import Staff

STAFF_BACKEND = "keiyaku.login.backends.StaffBackend"
"""The dotted path a session records for staff logged in by keiyaku (`login(..., backend=)`)."""


class StaffBackend(ModelBackend):
    """Django's model back end (password check, `is_active`), reading the logged-in staff member
    with their organisation and its sign-in policy in one query.

    Every staff page needs all three (the IP allow-list and the navigation read the organisation,
    `SignInPolicyMiddleware` the policy): read one by one they were three queries before the
    page's own (issue 12). An organisation without a policy row is cached as having none, so
    `keiyaku.login.services.policy_for` reads nothing more.
    """

    def get_user(self, user_id: Any) -> Staff | None:
        """The active staff member with primary key ``user_id``, or None (then the request is
        anonymous)."""
        try:
            user = Staff._default_manager.select_related(
                "organisation", "organisation__signin"
            ).get(pk=user_id)
        except Staff.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
