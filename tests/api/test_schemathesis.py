"""Issue 16, acceptance 2: schemathesis against the OpenAPI document (R40).

Every operation of ``/api/v1/openapi.json`` is called with bodies, queries and paths that
schemathesis generates from the document (a bounded number per operation, the same ones on
every run), with an admin-scope token through Django's WSGI application. The ids in the paths
are, for the most part, those of real objects of the token's organisation, so that the
generated input reaches the services rather than a 404. No answer may be a 5xx, and every
answer must be one the document lists, of its content type and schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keiyaku.api.v1 import api as ninja_api
from tests.api.conftest import make_token
from tests.api.test_api_outsider import _objects_of
from tests.flow import External, draft_contract

pytestmark = pytest.mark.django_db

EXAMPLES = 6
"""Generated cases per operation: ~55 operations stay well under a minute and a half."""

schema = schemathesis.openapi.from_dict(ninja_api.get_openapi_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def _connection_kept():
    """The WSGI handler closes the database connection after each request (as Django's test
    client keeps it, so that the test's transaction lives on)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(personas, _connection_kept) -> dict[str, object]:
    """An admin-scope token and an object of each kind a path names, of its organisation."""
    contract = draft_contract(
        personas.sender, externals=[External("株式会社A", "山田 太郎", "y@a.example.jp")]
    )
    return {
        "secret": make_token(personas.admin, scope="admin").secret,
        "ids": {**_objects_of(personas.sender, contract), "staff_id": str(personas.sender.pk)},
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_call_as_documented(case, world):
    ids = world["ids"]
    for name in list(case.path_parameters or {}):
        if name in ids and name != "which":
            case.path_parameters[name] = ids[name]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {world['secret']}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
