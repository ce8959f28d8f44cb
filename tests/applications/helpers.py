"""Sending an application and filling its form as the company does, over HTTP."""

from __future__ import annotations

import re

from django.test import Client

from keiyaku.applications import services
from tests.flow import mails_to

FORM_RE = re.compile(r"https?://[^\s/]+(/a/[A-Za-z0-9_-]+/)")


def application_link(address: str) -> str:
    links = [path for mail in mails_to(address) for path in FORM_RE.findall(mail.body)]
    assert links, f"no application link was e-mailed to {address}"
    return links[-1]


def send(contract, sender, *, company="株式会社髙橋建設", email="office@takahashi.example.jp"):
    return services.application_send(contract=contract, actor=sender, company=company, email=email)


def answers(**overrides: str) -> dict[str, str]:
    data = {
        "company": "株式会社髙橋建設",
        "title": "代表取締役",
        "name": "髙橋 一郎",
        "email": "ichiro@takahashi.example.jp",
        "staff1_name": "佐藤 花子",
        "staff1_email": "sato@takahashi.example.jp",
        "staff2_name": "",
        "staff2_email": "",
        "staff3_name": "",
        "staff3_email": "",
        "access_code": "7391",
        "access_code_again": "7391",
        "consent": "on",
    }
    data.update(overrides)
    return data


def submit(link: str, **overrides: str):
    return Client(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Mozilla/5.0 TestBrowser").post(
        link, answers(**overrides)
    )
