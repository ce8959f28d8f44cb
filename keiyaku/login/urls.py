from django.contrib.auth import views as auth_views
from django.urls import path

from keiyaku.login.views import account, admin, login, oidc, password

urlpatterns = [
    path("login/", login.login_view, name="login"),
    path("login/verify/", login.verify_view, name="signin-verify"),
    path("login/enrol/", login.enrol_view, name="signin-enrol"),
    path("login/oidc/<slug:slug>/", oidc.oidc_start_view, name="signin-oidc-start"),
    path("login/oidc/<slug:slug>/callback/", oidc.oidc_callback_view, name="signin-oidc-callback"),
    path("password-reset/", password.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="registration/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        password.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "welcome/<uidb64>/<token>/", password.WelcomePasswordView.as_view(), name="signin-welcome"
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("account/security/", account.account_view, name="signin-account"),
    path("account/security/totp/", account.account_enrol_view, name="signin-account-enrol"),
    path(
        "account/security/totp/remove/", account.totp_remove_view, name="signin-account-totp-remove"
    ),
    path(
        "account/security/recovery-codes/",
        account.recovery_codes_view,
        name="signin-recovery-codes",
    ),
    path(
        "account/security/recovery-codes/renew/",
        account.recovery_codes_renew_view,
        name="signin-recovery-codes-renew",
    ),
    path(
        "account/password/",
        account.AuditedPasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="registration/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("signin/settings/", admin.settings_view, name="signin-settings"),
    path("signin/locks/", admin.locks_view, name="signin-locks"),
    path("signin/locks/<int:staff_id>/unlock/", admin.unlock_view, name="signin-unlock"),
    path(
        "signin/locks/<int:staff_id>/reset-totp/", admin.totp_reset_view, name="signin-totp-reset"
    ),
]
