"""Reads of captured mail that depend on who asks (R1, R46)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from keiyaku.accounts.models import Role
from keiyaku.accounts.permissions import can_edit_contracts
from keiyaku.contracts.selectors import contracts_visible_to
from keiyaku.notifications.models import CapturedAttachment, CapturedMail


def is_operator(user: Any) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_superuser
        and user.organisation_id is None
    )


def captured_mail_visible_to(staff: Any) -> QuerySet[CapturedMail]:
    """Captured mail a person may read on the mailbox page. The page and its downloads read here.

    - The platform operator (a superuser without organisation) reads all of it, mail that
      concerns no organisation included (nobody else reads that).
    - Nobody reads another organisation's mail; disabled staff read nothing.
    - An organisation's admins read all of its mail, new members' first-password and reset links
      included: they register staff and change their addresses anyway, and in a trial the links
      reach a new member only through them.
    - Every other member reads mail addressed to their own address, and senders (who act on
      contracts) also the mail about contracts they can see (`contracts_visible_to`): the
      counterparties' requests and application links, which is what a trial practises. A viewer
      or signer never reads a counterparty's link, and nobody but the addressee and the admins
      reads a first-password or reset link (that mail concerns no contract).
    """
    if is_operator(staff):
        return CapturedMail.objects.all()
    if not staff.is_authenticated or not staff.is_active or staff.organisation_id is None:
        return CapturedMail.objects.none()
    mails = CapturedMail.objects.filter(organisation_id=staff.organisation_id)
    if staff.has_role(Role.ADMIN):
        return mails
    visible = Q(to__iexact=staff.email) if staff.email else Q(pk__in=[])
    if can_edit_contracts(staff):
        # Asked of each message (its contract among those the sender sees), not as the set of
        # every contract the sender sees: with a million contracts the set is built for every
        # staff page (the navigation asks `mailbox_offered`), the question per message is an
        # index probe, and an organisation in production has no captured mail at all.
        visible |= Q(
            Exists(contracts_visible_to(staff).filter(pk=OuterRef("contract_id")).values("pk"))
        )
    return mails.filter(visible)


def captured_attachments_visible_to(staff: Any) -> QuerySet[CapturedAttachment]:
    """Attachments of the mail `captured_mail_visible_to` gives; any other id is not found."""
    return CapturedAttachment.objects.filter(mail__in=captured_mail_visible_to(staff).values("pk"))


def mailbox_offered(staff: Any) -> bool:
    """Whether the navigation links to the mailbox: for a trial organisation, or when there is
    captured mail this person may read."""
    organisation = getattr(staff, "organisation", None)
    if organisation is not None and organisation.is_trial:
        return True
    if organisation is not None and not is_operator(staff):
        # Every staff page asks. An organisation in production has no captured mail: one index
        # probe answers, before the visibility filter is even built (building it is most of
        # the cost of a staff page's navigation; issue 12).
        if not CapturedMail.objects.filter(organisation_id=organisation.pk).exists():
            return False
    return captured_mail_visible_to(staff).exists()
