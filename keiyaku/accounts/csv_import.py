"""Reading a staff CSV (R35): decoding as Excel writes it, and checking every row.

`staff_csv_plan` reads the whole file and reports every bad row with its reason; it saves
nothing. `services.staff_import_apply` applies a plan that has no error, in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from keiyaku import excel_csv
from keiyaku.accounts.models import Department, Organisation, Role, Staff
from keiyaku.excel_csv import CsvRefusal
from keiyaku.text_input import TextRefusal, require_single_line

# Column key → accepted headings (the template uses the first one).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("氏名", "name"),
    "kana": ("ふりがな", "フリガナ", "カナ", "kana"),
    "department": ("所属", "department"),
    "email": ("メールアドレス", "e-mail", "email", "mail"),
    "login_id": ("ログインID", "login id", "login_id", "loginid", "username"),
    "roles": ("役割", "roles", "role"),
}
REQUIRED = ("name", "department", "email", "login_id", "roles")
ROLE_SPLIT = re.compile(r"[\s,;/|、・，；]+")
LOGIN_ID = re.compile(r"^[\w.@+-]{1,150}$", re.ASCII)


def role_names() -> dict[str, str]:
    """Accepted role names → role: the codes and the Japanese labels."""
    names = {role.value: role.value for role in Role}
    names.update({str(label): value for value, label in Role.choices})
    # Japanese labels whatever language the admin uses.
    names.update(
        {"管理者": "admin", "契約事務担当者": "sender", "承認者": "approver"}
        | {"契約締結権限者": "signer", "閲覧者": "viewer"}
    )
    return names


def template_csv() -> bytes:
    """The template offered for download: UTF-8 with BOM, so that Excel opens it correctly."""
    return excel_csv.encode(
        [
            [COLUMNS[key][0] for key in COLUMNS],
            [
                "契約 花子",
                "けいやく はなこ",
                "契約課",
                "hanako@city.example.jp",
                "hanako",
                "契約事務担当者",
            ],
            [
                "管理 太郎",
                "かんり たろう",
                "総務課",
                "taro@city.example.jp",
                "taro",
                "管理者 契約事務担当者",
            ],
        ]
    )


def staff_csv(staff: Iterable[Staff]) -> bytes:
    """Staff in the import format (UTF-8 with BOM): edit in Excel and re-import in update mode."""
    labels = {value: str(label) for value, label in Role.choices}
    return excel_csv.encode(
        [
            [COLUMNS[key][0] for key in COLUMNS],
            *(
                [
                    member.display_name,
                    member.kana,
                    member.department.name if member.department else "",
                    member.email,
                    member.username,
                    " ".join(labels.get(role, role) for role in member.roles),
                ]
                for member in staff
            ),
        ]
    )


@dataclass
class StaffRow:
    line: int
    name: str = ""
    kana: str = ""
    department_name: str = ""
    email: str = ""
    login_id: str = ""
    roles_text: str = ""
    department: Department | None = None
    roles: list[str] = field(default_factory=list)
    existing: Staff | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        return "update" if self.existing is not None else "create"


@dataclass
class ImportPlan:
    rows: list[StaffRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[StaffRow]:
        return [row for row in self.rows if row.errors]

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.bad_rows and bool(self.rows)

    @property
    def creates(self) -> int:
        return sum(1 for row in self.rows if row.existing is None)

    @property
    def updates(self) -> int:
        return sum(1 for row in self.rows if row.existing is not None)


def staff_csv_plan(data: bytes, *, organisation: Organisation, update: bool) -> ImportPlan:
    """Check a staff CSV against the organisation; report every problem, save nothing."""
    plan = ImportPlan()
    try:
        read = excel_csv.table(
            data,
            columns=COLUMNS,
            required=REQUIRED,
            max_bytes=settings.KEIYAKU_STAFF_CSV_MAX_BYTES,
            what=_("職員"),
        )
    except CsvRefusal as exc:
        plan.file_errors.append(exc.message)
        return plan
    header, body, positions = read.header, read.body, read.positions

    departments = {d.name: d for d in Department.objects.filter(organisation=organisation)}
    roles = role_names()
    for record in body:
        row = StaffRow(line=record.line)
        cells = record.cells
        if len(cells) != len(header):
            row.errors.append(
                _("列の数が見出しと違います（見出し%(expected)d列、この行%(found)d列）。")
                % {"expected": len(header), "found": len(cells)}
            )
        values = {key: (cells[i] if i < len(cells) else "") for key, i in positions.items()}
        row.name, row.kana = values.get("name", ""), values.get("kana", "")
        row.department_name, row.email = values["department"], values["email"]
        row.login_id, row.roles_text = values["login_id"], values["roles"]
        _check_row(row, departments, roles)
        plan.rows.append(row)
    _check_against_each_other(plan.rows)
    _check_against_database(plan.rows, organisation=organisation, update=update)
    return plan


def _check_row(row: StaffRow, departments: dict[str, Department], roles: dict[str, str]) -> None:
    try:
        require_single_line(
            name=("氏名", row.name),
            kana=("ふりがな", row.kana),
            department=("所属", row.department_name),
            email=("メールアドレス", row.email),
        )
    except TextRefusal as refusal:  # a quoted cell may hold a line break
        row.errors.append(refusal.message)
    if not row.name:
        row.errors.append(_("氏名がありません。"))
    elif len(row.name) > 200:
        row.errors.append(_("氏名が長すぎます。"))
    if not row.login_id:
        row.errors.append(_("ログインIDがありません。"))
    elif not LOGIN_ID.match(row.login_id):
        row.errors.append(
            _("ログインID「%(login)s」に使えない文字があります（英数字と . @ + - _ のみ）。")
            % {"login": row.login_id}
        )
    if not row.email:
        row.errors.append(_("メールアドレスがありません。"))
    else:
        try:
            validate_email(row.email)
        except ValidationError:
            row.errors.append(
                _("メールアドレス「%(email)s」の形式が正しくありません。") % {"email": row.email}
            )
    # An empty department is allowed (an admin may belong to none); a named one must exist.
    if row.department_name:
        row.department = departments.get(row.department_name)
        if row.department is None:
            row.errors.append(
                _("所属「%(name)s」が登録されていません。") % {"name": row.department_name}
            )
    names = [n for n in ROLE_SPLIT.split(row.roles_text) if n]
    if not names:
        row.errors.append(_("役割がありません。"))
    for name in names:
        role = roles.get(name) or roles.get(name.lower())
        if role is None:
            row.errors.append(
                _(
                    "役割「%(name)s」はありません（管理者、契約事務担当者、承認者、契約締結権限者、閲覧者）。"
                )
                % {"name": name}
            )
        elif role not in row.roles:
            row.roles.append(role)


def _check_against_each_other(rows: list[StaffRow]) -> None:
    seen_login: dict[str, int] = {}
    seen_email: dict[str, int] = {}
    for row in rows:
        if row.login_id:
            first = seen_login.setdefault(row.login_id, row.line)
            if first != row.line:
                row.errors.append(
                    _("ログインID「%(login)s」が%(line)d行目と重複しています。")
                    % {"login": row.login_id, "line": first}
                )
        if row.email:
            first = seen_email.setdefault(row.email.lower(), row.line)
            if first != row.line:
                row.errors.append(
                    _("メールアドレス「%(email)s」が%(line)d行目と重複しています。")
                    % {"email": row.email, "line": first}
                )


def _check_against_database(
    rows: list[StaffRow], *, organisation: Organisation, update: bool
) -> None:
    existing = {
        s.username: s
        for s in Staff.objects.filter(username__in=[r.login_id for r in rows if r.login_id])
    }
    emails: dict[str, str] = {}
    for login, email in Staff.objects.filter(organisation=organisation).values_list(
        "username", "email"
    ):
        if email:
            emails.setdefault(email.lower(), login)
    for row in rows:
        staff = existing.get(row.login_id)
        if staff is not None:
            if staff.organisation_id != organisation.pk:
                row.errors.append(
                    _("ログインID「%(login)s」は使用できません。別のIDにしてください。")
                    % {"login": row.login_id}
                )
            elif not update:
                row.errors.append(
                    _(
                        "ログインID「%(login)s」は既に登録されています（更新するには「既存の職員を更新する」を選んでください）。"
                    )
                    % {"login": row.login_id}
                )
            else:
                row.existing = staff
        owner = emails.get(row.email.lower()) if row.email else None
        if owner is not None and owner != row.login_id:
            row.errors.append(
                _("メールアドレス「%(email)s」は別の職員（%(login)s）が使っています。")
                % {"email": row.email, "login": owner}
            )
