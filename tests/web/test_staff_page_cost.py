"""What every staff page costs before its own work (issue 12): the session, then the staff
member with their organisation and its sign-in policy in one query (StaffBackend), then one
index probe for the mailbox link. Each staff page adds its own queries to these three."""

from __future__ import annotations

import pytest
from django.test import Client

from keiyaku.login.models import OrganisationSignIn
from keiyaku.notifications.models import CapturedMail

FIXED_QUERIES = 3
TEMPLATE_LIST_QUERIES = 1


@pytest.mark.parametrize("with_policy", [False, True], ids=["no policy row", "policy row"])
def test_a_staff_page_reads_the_session_the_staff_member_and_the_mailbox_probe(
    personas, django_assert_num_queries, with_policy
):
    """An organisation in production has no captured mail: the navigation's mailbox question is
    answered by one probe, the visibility filter is never built."""
    if with_policy:
        OrganisationSignIn.objects.create(organisation=personas.org, session_timeout_minutes=30)
    CapturedMail.objects.filter(organisation=personas.org).delete()
    client = Client()
    client.force_login(personas.sender)
    client.get("/templates/")  # the session's first use
    with django_assert_num_queries(FIXED_QUERIES + TEMPLATE_LIST_QUERIES):
        response = client.get("/templates/")
    assert response.status_code == 200
    assert "メールボックス" not in response.content.decode()


def test_the_policy_read_with_the_staff_member_is_the_one_in_force(personas):
    """The policy comes with the staff member, per request: a change an admin makes applies to
    the next request of everyone in the organisation."""
    client = Client()
    client.force_login(personas.sender)
    assert client.get("/templates/").status_code == 200
    OrganisationSignIn.objects.create(organisation=personas.org, totp_required=True)
    response = client.get("/templates/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
