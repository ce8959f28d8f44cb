"""`keiyaku check --deploy` refuses TSA settings that would stop every signature (issue 13)."""

from __future__ import annotations

from django.core.checks import run_checks

from tests.servers.rfc3161_tsa import tls_files


def tsa_errors() -> set[str]:
    return {
        issue.id
        for issue in run_checks(include_deployment_checks=True)
        if issue.id and issue.id.startswith("keiyaku.E1") and "TSA" in issue.msg
    }


def test_usable_tsa_settings_pass(settings, tmp_path) -> None:
    tls = tls_files(tmp_path)
    settings.KEIYAKU_TSA_URLS = ["https://tsa1.example.jp/tsp", "https://tsa2.example.jp/tsp"]
    settings.KEIYAKU_TSA_CREDENTIALS = {
        1: {"username": "city", "password": "pw"},
        2: {"client_cert": str(tls.client_cert), "client_key": str(tls.client_key)},
    }
    assert tsa_errors() == set()


def test_a_tsa_url_that_is_not_http_is_refused(settings) -> None:
    settings.KEIYAKU_TSA_URLS = ["tsa.example.jp/tsp"]
    assert tsa_errors() == {"keiyaku.E140"}


def test_a_client_certificate_that_cannot_be_read_is_refused(settings, tmp_path) -> None:
    settings.KEIYAKU_TSA_URLS = ["https://tsa.example.jp/tsp"]
    settings.KEIYAKU_TSA_CREDENTIALS = {1: {"client_cert": str(tmp_path / "missing.pem")}}
    assert tsa_errors() == {"keiyaku.E141"}


def test_a_password_for_a_plain_http_tsa_is_refused(settings) -> None:
    settings.KEIYAKU_TSA_URLS = ["http://tsa.example.jp/tsp"]
    settings.KEIYAKU_TSA_CREDENTIALS = {1: {"username": "city", "password": "CHANGE-ME"}}
    assert tsa_errors() == {"keiyaku.E142", "keiyaku.E110"}
