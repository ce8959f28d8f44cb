"""docs/trust.md's illustrations (issue 13: "screenshots from the pdf, not from Acrobat"): every
image the guide shows is in the tree, and the generator that draws them from keiyaku itself
(docs/illustrations/make_trust_illustrations.py) still draws each one from a real contract."""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
TRUST_MD = ROOT / "docs" / "trust.md"
GENERATOR = ROOT / "docs" / "illustrations" / "make_trust_illustrations.py"
IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
MAX_BYTES = 300 * 1024


@cache
def generator() -> ModuleType:
    """The generator, a script under docs/, loaded as a module."""
    spec = importlib.util.spec_from_file_location("make_trust_illustrations", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check_png(path: Path) -> tuple[int, int]:
    """``path`` is a whole PNG, small enough for the repository; its size in px."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert 5 * 1024 < path.stat().st_size < MAX_BYTES, (path, path.stat().st_size)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_every_image_the_trust_guide_shows_is_in_the_tree():
    text = TRUST_MD.read_text()
    shown = IMAGE_RE.findall(text)
    assert {Path(target).name for _alt, target in shown} >= set(generator().IMAGES)
    for alt, target in shown:
        assert alt.strip(), f"{target}: no alt text"
        check_png(TRUST_MD.parent / target)
    assert "docs/illustrations/make_trust_illustrations.py" in text  # how to draw them again


@pytest.fixture
def site(live_server, settings, keiyaku_tsa_url) -> str:
    """The live server, with e-mailed links pointing at it."""
    settings.PUBLIC_URL = live_server.url
    return live_server.url


@pytest.mark.browser
@pytest.mark.slow(seconds=8)
@pytest.mark.database_independent
@pytest.mark.django_db(transaction=True)
def test_the_generator_draws_each_image_from_a_completed_contract(site, personas, tmp_path):
    from keiyaku.pki.service import get_authority

    make = generator()
    pdf = make.complete_contract(personas)
    made = make.illustrate(site=site, pdf=pdf, out=tmp_path)
    assert set(made) == set(make.IMAGES)
    sizes = {name: check_png(path) for name, path in made.items()}
    # A desktop page's width; an A4 page at the generator's resolution (827 x 1169 px).
    assert sizes[make.TRUST_ROOT][0] == sizes[make.VERIFIED][0] == make.VIEWPORT["width"]
    width, height = sizes[make.SIGNED_PAGE]
    assert width == 827 and abs(height - 1169) <= 1, sizes
    trusted = make.pdfsig_report(pdf, trusted_root=get_authority().root_pem())
    assert trusted.count("Signature Validation: Signature is Valid.") == 2, trusted
    assert "keiyaku-timestamp-01" in trusted
