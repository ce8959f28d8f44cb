from __future__ import annotations

import pytest

from keiyaku.accounts.models import Role
from keiyaku.accounts.services import staff_create


@pytest.fixture
def roads_sender(personas):
    """A sender of the second department (土木課), who keeps its private entries."""
    return staff_create(
        organisation=personas.org,
        username="roads-sender",
        password=personas.password,
        display_name="土木 次郎",
        email="roads@city.example.jp",
        department=personas.other_dept,
        roles=[Role.SENDER],
    )
