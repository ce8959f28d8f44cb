"""Login security (R37): passwords, lockout, TOTP, session timeout, password reset, OIDC SSO."""
