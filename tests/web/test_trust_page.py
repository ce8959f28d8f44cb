"""The "about trust" page (issue 13): the roots keiyaku trusts, its signing chain, its TSAs."""

from __future__ import annotations

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from django.test import Client

from keiyaku.pki.authority import Authority
from keiyaku.pki.service import get_authority

pytestmark = pytest.mark.django_db


def _colons(cert: asn1_x509.Certificate) -> str:
    digest = cert.sha256.hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def test_lists_every_trust_root_with_its_fingerprint_and_pem(
    settings, tmp_path, authority: Authority
):
    # A second, unrelated root configured by the operator (the test authority's).
    extra = tmp_path / "extra-root.pem"
    extra.write_bytes(authority.root_pem())
    settings.KEIYAKU_TRUST_ROOTS = [str(extra)]
    page = Client().get("/trust/").content.decode()
    own = get_authority().root_cert
    for root in (own, authority.root_cert):
        assert _colons(root) in page
        assert f'data-sha256="{root.sha256.hex()}"' in page
        download = Client().get(f"/trust/roots/{root.sha256.hex()}.pem")
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment;")
        [(kind, _headers, der)] = pem.unarmor(download.content, multiple=True)
        assert kind == "CERTIFICATE" and der == root.dump()
    assert "運用者が設定した信頼点" in page
    # The signing certificate in use, and the TSAs asked.
    assert _colons(get_authority().signer_cert) in page
    assert '<ol id="tsa-list">' in page


def test_a_root_not_trusted_is_not_served(settings, authority: Authority):
    settings.KEIYAKU_TRUST_ROOTS = []
    assert Client().get(f"/trust/roots/{authority.root_cert.sha256.hex()}.pem").status_code == 404
    assert Client().get("/trust/roots/not-hex.pem").status_code == 404


def test_linked_from_the_verification_page_and_every_footer():
    page = Client().get("/verify/").content.decode()
    assert page.count('href="/trust/"') == 2  # in the text and in the footer
