"""Writes for organisations, departments and staff (R1, R2, R35, R36, R38).

Each runs in one transaction and writes its audit entry there; e-mail to new staff is queued in
the same transaction and delivered after commit. The administration writes check the actor
themselves (`require_org_admin`; the platform operator's writes `_require_operator`); an actor
of None is keiyaku itself (a management command, the demo seed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from keiyaku.accounts.contacts import CONTACT_KEYS, contact_errors, contact_of
from keiyaku.accounts.models import (
    ACCESS_CODE_MAX_LENGTH,
    ACCESS_CODE_MIN_LENGTH,
    RENEWAL_ALERT_MAX_COUNT,
    RENEWAL_ALERT_MAX_DAYS,
    Department,
    Organisation,
    Role,
    Staff,
)
from keiyaku.accounts.network import address_allowed, parse_networks
from keiyaku.accounts.permissions import is_operator, require_org_admin
from keiyaku.accounts.selectors import department_with_descendants
from keiyaku.accounts.tokens import welcome_tokens
from keiyaku.ascii_digits import ascii_int
from keiyaku.audit.services import SYSTEM, RequestMeta, audit_record
from keiyaku.refusals import NotAllowed, Refusal
from keiyaku.text_input import require_single_line


class AccountsError(Refusal):
    """A refusal of the organisation, department and staff services (see keiyaku.refusals)."""


# --- organisations -----------------------------------------------------------------------------


def _require_operator(actor: Any) -> None:
    """Organisations are added by the platform operator (or by keiyaku itself: None)."""
    if actor is not None and not is_operator(actor):
        raise NotAllowed(_("組織を追加する権限がありません。"))


@transaction.atomic
def organisation_create(
    *,
    name: str,
    slug: str,
    is_trial: bool = False,
    actor: Any = None,
    meta: RequestMeta = SYSTEM,
) -> Organisation:
    """A new organisation. A trial one (練習用組織, R46) never has its mail sent."""
    _require_operator(actor)
    require_single_line(name=("団体名", name), slug=("識別名（英数字）", slug))
    if Organisation.objects.filter(slug=slug).exists():
        raise AccountsError(
            _("この識別名（%(slug)s）は既に使われています。") % {"slug": slug},
            code="duplicate_slug",
        )
    organisation = Organisation.objects.create(name=name, slug=slug, is_trial=is_trial)
    audit_record(
        event="organisation.create",
        organisation=organisation,
        actor=actor,
        detail={"name": name, "slug": slug, "is_trial": is_trial},
        meta=meta,
    )
    return organisation


@transaction.atomic
def renewal_alert_days_parse(text: str) -> list[int]:
    """The days an admin typed for renewal alerts (R31): 「60,30,7」, also with full-width digits,
    「、」 or spaces between. Refused with `AccountsError` (``renewal_alert_days``) for anything
    that is not a whole number; the range is `renewal_alert_days_check`'s."""
    parts = [p for p in re.split(r"[,\s、，]+", unicodedata.normalize("NFKC", text)) if p]
    if any(ascii_int(p) is None for p in parts):
        raise AccountsError(
            _("お知らせの日数は「60,30,7」のように、半角数字をカンマで区切って入力してください。"),
            code="renewal_alert_days",
            field="renewal_alert_days",
        )
    return [int(p) for p in parts]


def renewal_alert_days_check(days: list[int]) -> list[int]:
    """The days, largest first, without repeats; refused (``renewal_alert_days``) unless each is
    1 to RENEWAL_ALERT_MAX_DAYS and there are at most RENEWAL_ALERT_MAX_COUNT (R31)."""
    unique = sorted(set(days), reverse=True)
    if any(not 1 <= n <= RENEWAL_ALERT_MAX_DAYS for n in unique):
        raise AccountsError(
            _("お知らせの日数は1〜%(max)s日の範囲で指定してください。")
            % {"max": RENEWAL_ALERT_MAX_DAYS},
            code="renewal_alert_days",
            field="renewal_alert_days",
        )
    if len(unique) > RENEWAL_ALERT_MAX_COUNT:
        raise AccountsError(
            _("お知らせは%(max)s回までにしてください。") % {"max": RENEWAL_ALERT_MAX_COUNT},
            code="renewal_alert_days",
            field="renewal_alert_days",
        )
    return unique


def organisation_update_settings(
    *,
    organisation: Organisation,
    actor: Staff,
    include_subdepartments: bool,
    ip_allowlist: str,
    current_ip: str | None,
    confirm_lockout: bool = False,
    access_code_min_length: int | None = None,
    keep_pdf_links: bool | None = None,
    deadline_wareki: bool | None = None,
    renewal_alert_days: str | None = None,
    meta: RequestMeta = SYSTEM,
) -> Organisation:
    """Change an organisation's own settings.

    An allow-list that would shut out the admin's own current address is refused unless the
    admin confirms it, so nobody locks themselves out by a typing mistake.
    `access_code_min_length` (4–32; None keeps it) applies to access codes set from now on
    (R18): codes already chosen stay valid. `keep_pdf_links` (None keeps it) applies to PDFs
    uploaded from now on (`keiyaku.signing.active_content`). `deadline_wareki` (None keeps it):
    counterparty mails and pages give the signing deadline in the Japanese era too (issue 14).
    `renewal_alert_days` (as typed, 「60,30,7」; None keeps it; empty sends none): days before a
    contract's period end or notice deadline its department is mailed (R31), read by
    `renewal_alert_days_parse` and checked by `renewal_alert_days_check`.
    """
    require_org_admin(actor, organisation)
    alert_days = renewal_alert_days_check(
        list(organisation.renewal_alert_days)
        if renewal_alert_days is None
        else renewal_alert_days_parse(renewal_alert_days)
    )
    if access_code_min_length is None:
        access_code_min_length = organisation.access_code_min_length
    if keep_pdf_links is None:
        keep_pdf_links = organisation.keep_pdf_links
    if deadline_wareki is None:
        deadline_wareki = organisation.deadline_wareki
    if not ACCESS_CODE_MIN_LENGTH <= access_code_min_length <= ACCESS_CODE_MAX_LENGTH:
        raise AccountsError(
            _("アクセスコードの最小文字数は%(min)s〜%(max)sの範囲で指定してください。")
            % {"min": ACCESS_CODE_MIN_LENGTH, "max": ACCESS_CODE_MAX_LENGTH},
            code="access_code_min_length",
            field="access_code_min_length",
        )
    lines = [line.strip() for line in ip_allowlist.splitlines() if line.strip()]
    _networks, bad = parse_networks(lines)
    if bad:
        raise AccountsError(
            _("IPアドレスまたはCIDR範囲として正しくない行があります: %(items)s")
            % {"items": "、".join(bad)},
            code="bad_network",
        )
    allowlist = "\n".join(lines)
    if allowlist and not address_allowed(current_ip, allowlist) and not confirm_lockout:
        raise AccountsError(
            _(
                "現在の接続元（%(address)s）が許可リストに含まれていません。保存するとこの接続元から"
                "管理画面を利用できなくなります。よろしければ確認欄にチェックして保存してください。"
            )
            % {"address": current_ip or "?"},
            code="lockout_unconfirmed",
        )
    before = {
        "include_subdepartments": organisation.include_subdepartments,
        "ip_allowlist": organisation.ip_allowlist,
        "access_code_min_length": organisation.access_code_min_length,
        "keep_pdf_links": organisation.keep_pdf_links,
        "deadline_wareki": organisation.deadline_wareki,
        "renewal_alert_days": organisation.renewal_alert_days,
    }
    organisation.include_subdepartments = include_subdepartments
    organisation.ip_allowlist = allowlist
    organisation.access_code_min_length = access_code_min_length
    organisation.keep_pdf_links = keep_pdf_links
    organisation.deadline_wareki = deadline_wareki
    organisation.renewal_alert_days = alert_days
    organisation.save(
        update_fields=[
            "include_subdepartments",
            "ip_allowlist",
            "access_code_min_length",
            "keep_pdf_links",
            "deadline_wareki",
            "renewal_alert_days",
        ]
    )
    audit_record(
        event="organisation.settings",
        organisation=organisation,
        actor=actor,
        detail={
            "before": before,
            "after": {
                "include_subdepartments": include_subdepartments,
                "ip_allowlist": allowlist,
                "access_code_min_length": access_code_min_length,
                "keep_pdf_links": keep_pdf_links,
                "deadline_wareki": deadline_wareki,
                "renewal_alert_days": alert_days,
            },
        },
        meta=meta,
    )
    return organisation


# --- departments -------------------------------------------------------------------------------


def department_get_or_create(*, organisation: Organisation, name: str) -> Department:
    department, _ = Department.objects.get_or_create(organisation=organisation, name=name)
    return department


def _check_department(
    organisation: Organisation, name: str, parent: Department | None, department_id: int | None
) -> str:
    name = name.strip()
    if not name:
        raise AccountsError(_("所属名を入力してください。"), code="name_required")
    require_single_line(name=("所属名", name))
    if parent is not None and parent.organisation_id != organisation.pk:
        raise AccountsError(_("上位の所属が見つかりません。"), code="parent_unknown")
    clash = Department.objects.filter(organisation=organisation, name=name)
    if department_id is not None:
        clash = clash.exclude(pk=department_id)
    if clash.exists():
        raise AccountsError(
            _("所属「%(name)s」は既にあります。") % {"name": name}, code="duplicate_department"
        )
    return name


@transaction.atomic
def department_create(
    *,
    organisation: Organisation,
    actor: Staff,
    name: str,
    parent: Department | None = None,
    meta: RequestMeta = SYSTEM,
) -> Department:
    require_org_admin(actor, organisation)
    name = _check_department(organisation, name, parent, None)
    department = Department.objects.create(organisation=organisation, name=name, parent=parent)
    audit_record(
        event="department.create",
        organisation=organisation,
        actor=actor,
        subject=f"department:{department.pk}",
        detail={"name": name, "parent": parent.name if parent else None},
        meta=meta,
    )
    return department


@transaction.atomic
def department_update(
    *,
    department: Department,
    actor: Staff,
    name: str,
    parent: Department | None,
    meta: RequestMeta = SYSTEM,
) -> Department:
    organisation = department.organisation
    require_org_admin(actor, organisation)
    name = _check_department(organisation, name, parent, department.pk)
    if parent is not None and parent.pk in department_with_descendants(department.pk):
        raise AccountsError(
            _("自分自身や下位の所属を上位の所属にはできません。"), code="parent_cycle"
        )
    before = {
        "name": department.name,
        "parent": department.parent.name if department.parent else None,
    }
    department.name = name
    department.parent = parent
    department.save(update_fields=["name", "parent"])
    audit_record(
        event="department.update",
        organisation=organisation,
        actor=actor,
        subject=f"department:{department.pk}",
        detail={
            "before": before,
            "after": {"name": name, "parent": parent.name if parent else None},
        },
        meta=meta,
    )
    return department


# --- contact blocks (issue 14) -----------------------------------------------------------------


@transaction.atomic
def contact_update(
    *,
    owner: Organisation | Department,
    actor: Staff,
    department: str = "",
    person: str = "",
    phone: str = "",
    email: str = "",
    hours: str = "",
    meta: RequestMeta = SYSTEM,
) -> Organisation | Department:
    """Set the contact block (「問い合わせ先」) of an organisation or of one of its departments,
    shown on every counterparty page and in every counterparty mail (`accounts.contacts`).

    Each value is one line, stripped; the phone ASCII digits and hyphens (at most 30), the
    e-mail an address; all empty clears the block. Refused with `AccountsError` (its `field`
    the form field, `contact_<key>`) before anything changes; `NotAllowed` unless `actor`
    administers the owner's organisation. Audited as `organisation.contact` or
    `department.contact` with the block before and after.
    """
    organisation = owner if isinstance(owner, Organisation) else owner.organisation
    require_org_admin(actor, organisation)
    values = {
        "department": department.strip(),
        "person": person.strip(),
        "phone": phone.strip(),
        "email": email.strip(),
        "hours": hours.strip(),
    }
    for key, message in contact_errors(values).items():
        raise AccountsError(message, code=f"contact_{key}", field=f"contact_{key}")
    before = contact_of(owner).as_dict()
    for key, value in values.items():
        setattr(owner, f"contact_{key}", value)
    owner.save(update_fields=[f"contact_{key}" for key in CONTACT_KEYS])
    is_organisation = isinstance(owner, Organisation)
    audit_record(
        event="organisation.contact" if is_organisation else "department.contact",
        organisation=organisation,
        actor=actor,
        subject="" if is_organisation else f"department:{owner.pk}",
        detail={"before": before, "after": values},
        meta=meta,
    )
    return owner


# --- staff -------------------------------------------------------------------------------------


def _check_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    return roles


@transaction.atomic
def staff_create(
    *,
    organisation: Organisation,
    username: str,
    password: str | None,
    display_name: str,
    email: str,
    department: Department | None = None,
    roles: Iterable[str] = (Role.SENDER,),
    kana: str = "",
) -> Staff:
    """A staff member; without a password the account has none until the person sets one.

    keiyaku's own primitive (the demo seed, sign-in by an identity provider, the services
    below), with no actor and no audit entry: administrators register staff through
    `staff_invite`, which checks them."""
    staff = Staff(
        organisation=organisation,
        username=username,
        display_name=display_name,
        kana=kana,
        email=email,
        department=department,
        roles=_check_roles(roles),
    )
    if password is None:
        staff.set_unusable_password()
    else:
        staff.set_password(password)
    staff.save()
    return staff


def password_set_url(staff: Staff) -> str:
    """The link a new staff member follows to choose a first password (valid for days)."""
    uid = urlsafe_base64_encode(force_bytes(staff.pk))
    token = welcome_tokens.make_token(staff)
    try:
        path = reverse("signin-welcome", kwargs={"uidb64": uid, "token": token})
    except NoReverseMatch:
        path = reverse("login")  # sign-in pages not installed: the admin tells the password
    return f"{settings.PUBLIC_URL}{path}"


def _welcome(staff: Staff) -> None:
    from keiyaku.notifications.services import mail_queue

    mail_queue(
        organisation=staff.organisation,
        to=staff.email,
        template="staff_welcome",
        context={
            "staff": staff,
            "organisation": staff.organisation,
            "url": password_set_url(staff),
            "days": settings.KEIYAKU_WELCOME_LINK_DAYS,
        },
    )


def _check_staff_fields(
    organisation: Organisation,
    *,
    username: str,
    display_name: str,
    kana: str,
    email: str,
    department: Department | None,
    staff_id: int | None,
) -> None:
    require_single_line(
        display_name=("氏名", display_name),
        kana=("ふりがな", kana),
        username=("ログインID", username),
        email=("メールアドレス", email),
    )
    others = Staff.objects.exclude(pk=staff_id) if staff_id else Staff.objects.all()
    if others.filter(username=username).exists():
        raise AccountsError(
            _("ログインID「%(login)s」は既に使われています。") % {"login": username},
            code="duplicate_login",
        )
    if others.filter(organisation=organisation, email__iexact=email).exists():
        raise AccountsError(
            _("メールアドレス「%(email)s」は別の職員が使っています。") % {"email": email},
            code="duplicate_email",
        )
    if department is not None and department.organisation_id != organisation.pk:
        raise AccountsError(_("所属が見つかりません。"), code="department_unknown")


@transaction.atomic
def staff_invite(
    *,
    organisation: Organisation,
    actor: Staff | None,
    username: str,
    display_name: str,
    email: str,
    department: Department | None,
    roles: Iterable[str],
    kana: str = "",
    meta: RequestMeta = SYSTEM,
) -> Staff:
    """Register a staff member without a password and e-mail them the link to set one."""
    require_org_admin(actor, organisation)
    return _staff_invite(
        organisation=organisation,
        actor=actor,
        username=username,
        display_name=display_name,
        email=email,
        department=department,
        roles=roles,
        kana=kana,
        meta=meta,
    )


def _staff_invite(
    *,
    organisation: Organisation,
    actor: Staff | None,
    username: str,
    display_name: str,
    email: str,
    department: Department | None,
    roles: Iterable[str],
    kana: str = "",
    meta: RequestMeta = SYSTEM,
) -> Staff:
    """`staff_invite` once the actor's right is settled."""
    _check_staff_fields(
        organisation,
        username=username,
        display_name=display_name,
        kana=kana,
        email=email,
        department=department,
        staff_id=None,
    )
    staff = staff_create(
        organisation=organisation,
        username=username,
        password=None,
        display_name=display_name,
        kana=kana,
        email=email,
        department=department,
        roles=roles,
    )
    audit_record(
        event="staff.create",
        organisation=organisation,
        actor=actor,
        subject=f"staff:{staff.pk}",
        detail=_staff_detail(staff),
        meta=meta,
    )
    _welcome(staff)
    return staff


def _staff_detail(staff: Staff) -> dict[str, Any]:
    return {
        "login_id": staff.username,
        "name": staff.display_name,
        "kana": staff.kana,
        "email": staff.email,
        "department": staff.department.name if staff.department else None,
        "roles": list(staff.roles),
        "active": staff.is_active,
    }


def _keeps_an_admin(staff: Staff, roles: list[str], is_active: bool) -> bool:
    if Role.ADMIN in roles and is_active:
        return True
    others = (
        Staff.objects.filter(organisation=staff.organisation, is_active=True)
        .exclude(pk=staff.pk)
        .values_list("roles", flat=True)
    )
    return any(Role.ADMIN in other for other in others)


@transaction.atomic
def staff_update(
    *,
    staff: Staff,
    actor: Staff,
    username: str,
    display_name: str,
    kana: str,
    email: str,
    department: Department | None,
    roles: Iterable[str],
    is_active: bool,
    meta: RequestMeta = SYSTEM,
) -> Staff:
    """Edit a staff member. Staff are disabled, never deleted; an organisation keeps an admin."""
    organisation = staff.organisation
    assert organisation is not None
    require_org_admin(actor, organisation)
    roles = _check_roles(roles)
    _check_staff_fields(
        organisation,
        username=username,
        display_name=display_name,
        kana=kana,
        email=email,
        department=department,
        staff_id=staff.pk,
    )
    if not _keeps_an_admin(staff, roles, is_active):
        raise AccountsError(
            _("有効な管理者が一人もいなくなるため、変更できません。"), code="last_admin"
        )
    before = _staff_detail(staff)
    staff.username = username
    staff.display_name = display_name
    staff.kana = kana
    staff.email = email
    staff.department = department
    staff.roles = roles
    staff.is_active = is_active
    staff.save(
        update_fields=[
            "username",
            "display_name",
            "kana",
            "email",
            "department",
            "roles",
            "is_active",
        ]
    )
    after = _staff_detail(staff)
    audit_record(
        event="staff.update",
        organisation=organisation,
        actor=actor,
        subject=f"staff:{staff.pk}",
        detail={
            "login_id": staff.username,
            "changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
        },
        meta=meta,
    )
    return staff


@transaction.atomic
def staff_import_apply(
    *,
    organisation: Organisation,
    actor: Staff,
    data: bytes,
    update: bool,
    meta: RequestMeta = SYSTEM,
) -> tuple[int, int]:
    """Register or update every row of a staff CSV, or nothing when any row is bad (R35)."""
    from keiyaku.accounts.csv_import import staff_csv_plan

    require_org_admin(actor, organisation)
    plan = staff_csv_plan(data, organisation=organisation, update=update)
    if not plan.ok:
        raise AccountsError(_("CSVに誤りがあるため、登録しませんでした。"), code="csv_invalid")
    created: list[str] = []
    updated: list[str] = []
    for row in plan.rows:
        if row.existing is not None:
            staff = row.existing
            staff.display_name = row.name
            staff.kana = row.kana
            staff.email = row.email
            staff.department = row.department
            staff.roles = row.roles
            staff.save(update_fields=["display_name", "kana", "email", "department", "roles"])
            updated.append(staff.username)
        else:
            staff = staff_create(
                organisation=organisation,
                username=row.login_id,
                password=None,
                display_name=row.name,
                kana=row.kana,
                email=row.email,
                department=row.department,
                roles=row.roles,
            )
            created.append(staff.username)
            _welcome(staff)
    # The same rule as `staff_update`: an import that takes the role away from every admin is
    # refused as a whole (the transaction rolls back every row).
    active = Staff.objects.filter(organisation=organisation, is_active=True)
    if not any(Role.ADMIN in roles for roles in active.values_list("roles", flat=True)):
        raise AccountsError(
            _("有効な管理者が一人もいなくなるため、変更できません。"), code="last_admin"
        )
    audit_record(
        event="staff.import",
        organisation=organisation,
        actor=actor,
        detail={"created": created, "updated": updated},
        meta=meta,
    )
    return len(created), len(updated)


@transaction.atomic
def organisation_create_with_admin(
    *,
    name: str,
    slug: str,
    admin_username: str,
    admin_name: str,
    admin_email: str,
    is_trial: bool = False,
    actor: Any = None,
    meta: RequestMeta = SYSTEM,
) -> tuple[Organisation, Staff]:
    """A new organisation and its first admin, who gets the e-mail to set a password.

    For a trial organisation that e-mail, like all its mail, is kept in the mailbox (R46).
    The platform operator's (or keiyaku's own, actor None): the organisation has no admin yet.
    """
    organisation = organisation_create(
        name=name, slug=slug, is_trial=is_trial, actor=actor, meta=meta
    )
    admin = _staff_invite(
        organisation=organisation,
        actor=actor,
        username=admin_username,
        display_name=admin_name,
        email=admin_email,
        department=None,
        roles=[Role.ADMIN, Role.SENDER],
        meta=meta,
    )
    return organisation, admin
