"""The operating manuals inside keiyaku (issue 14, Sapporo 5(1)ウ): the staff manual (職員向け
操作マニュアル) and the counterparty guide (事業者向けご利用ガイド), as help pages every screen
links to, printed to PDF by ``make manual`` (docs/manual/make_manual.py).

Their screenshots are taken by the browser tests themselves (tests/browser/screenshots.py) and
committed under ``static/help/shots``; tests/help checks that every picture a manual shows is
one a test still takes."""
