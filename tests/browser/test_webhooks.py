"""An organisation admin sets up a webhook in a real browser (R40): adds an endpoint, copies the
secret shown once, sends a test event to a receiver on loopback and reads the delivery log."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from keiyaku.webhooks.models import WebhookDelivery
from tests.browser.helpers import login, see
from tests.browser.screenshots import manual_screenshot
from tests.webhooks.receiver import signature_valid, webhook_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}


def test_admin_adds_an_endpoint_sends_a_test_event_and_reads_the_log(
    browser, site, personas, settings
):
    settings.KEIYAKU_OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the receiver listens on loopback
    with webhook_receiver() as receiver:
        context = browser.new_context(**DESK)
        page = context.new_page()
        login(page, site, "city-admin", personas.password, wait=True)
        page.get_by_role("link", name="管理", exact=True).click()
        page.get_by_role("link", name="Webhook", exact=True).click()
        see(page, "Webhookの送信先はまだありません。")
        page.get_by_role("link", name="送信先を追加").click()

        # A URL on the internal network is refused in Japanese, nothing saved.
        page.fill("#id_name", "文書管理システム")
        page.fill("#id_url", "https://10.0.0.5/keiyaku")
        page.get_by_label("締結完了").check()
        page.get_by_role("button", name="追加する").click()
        see(page, "内部ネットワーク")

        page.fill("#id_url", receiver.url)
        page.get_by_label("却下").check()
        page.get_by_role("button", name="追加する").click()
        see(page, "この秘密鍵は今回だけ表示されます。")
        secret = page.locator("#secret-value").inner_text()
        assert secret.startswith("whsec_")
        page.get_by_role("link", name="送信先の画面へ").click()
        see(page, "Webhook: 文書管理システム")
        assert secret not in page.content()

        page.get_by_role("button", name="テスト送信").click()
        see(page, "テストイベントを送信しました。")
        log = page.locator("#deliveries")
        expect(log).to_contain_text("テスト送信")
        expect(log).to_contain_text("配信済み")
        expect(log).to_contain_text("HTTP 200")
        manual_screenshot(page, "staff-webhook", full_page=True)

        (got,) = receiver.received
        delivery = WebhookDelivery.objects.get()
        assert json.loads(got.body)["type"] == "test"
        started = delivery.attempt_log.get().started_at
        assert signature_valid(
            got.headers["Keiyaku-Signature"], got.body, secret, now=int(started.timestamp())
        )

        log.get_by_role("link").first.click()
        see(page, str(delivery.event_id))
        expect(page.locator("#attempts tbody tr")).to_have_count(1)
        expect(page.locator("#attempts")).to_contain_text("200")
        expect(page.locator("#payload")).to_contain_text('"type":"test"')
        # Nothing on the page is wider than the window.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        context.close()
