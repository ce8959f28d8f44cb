"""Password reset by e-mail and the first password of a new member (Django's views, audited)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy

from keiyaku.accounts.tokens import welcome_tokens
from keiyaku.audit.services import RequestMeta, audit_record
from keiyaku.login.forms import PasswordResetForm
from keiyaku.login.views.session import rate_limited
from keiyaku.ratelimits.limiter import login_rate_exceeded


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "login/mail/password_reset_email.txt"
    subject_template_name = "login/mail/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        meta = RequestMeta.from_request(request)
        if login_rate_exceeded(ip=meta.ip, login_id=request.POST.get("email", "")):
            return rate_limited(request)
        self.extra_email_context = {"base_url": settings.PUBLIC_URL}
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")
    audit_event = "password.reset"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["min_length"] = settings.KEIYAKU_PASSWORD_MIN_LENGTH
        return context

    def form_valid(self, form: Form) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)  # type: ignore[arg-type]
            user = self.user  # type: ignore[attr-defined]
            assert user is not None  # form_valid runs only with a valid link
            audit_record(
                event=self.audit_event,
                organisation=user.organisation,
                actor=user,
                meta=RequestMeta.from_request(self.request),
            )
        return response


class WelcomePasswordView(PasswordResetConfirmView):
    """A new staff member chooses a first password from the welcome e-mail's link."""

    token_generator = welcome_tokens
    audit_event = "password.set"
