"""Contracts (案件), their documents, parties and links. States and their rules live in
states.py; changes go through services/."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from keiyaku.contracts import states
from keiyaku.contracts.states import ContractStatus, PartyStatus

__all__ = ["ContractStatus", "PartyStatus"]  # defined in states.py, imported from here too


class Contract(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="contracts"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT
    )
    keyring = models.OneToOneField("storage.KeyRing", on_delete=models.PROTECT)
    title = models.CharField(_("案件名"), max_length=300)
    management_number = models.CharField(_("管理番号"), max_length=100, blank=True)
    counterparty_company = models.CharField(_("相手方"), max_length=200, blank=True)
    amount = models.PositiveBigIntegerField(_("取引金額（円）"), null=True, blank=True)
    contract_date = models.DateField(_("契約日"), null=True, blank=True)
    period_start = models.DateField(_("契約期間（開始）"), null=True, blank=True)
    period_end = models.DateField(_("契約期間（終了）"), null=True, blank=True)
    auto_renew = models.BooleanField(_("自動更新"), default=False)
    notice_deadline = models.DateField(
        _("更新拒絶の通知期限"), null=True, blank=True
    )  # R31: the last day to give notice that an automatically renewed contract ends
    note = models.TextField(_("備考"), blank=True)
    status = models.CharField(
        max_length=20, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    # 締結証明書ID: known from creation, printed on page 1 before the first signature (R22).
    certificate_id = models.CharField(max_length=40, unique=True)
    status_reason = models.TextField(blank=True)
    allow_forwarding = models.BooleanField(_("転送を許可する"), default=True)
    # Signing deadline (R11): set at sending; past it the contract expires.
    deadline = models.DateTimeField(_("署名期限"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)  # the automatic reminder
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    """When a contract signed elsewhere (on paper, another service) was imported (R30); None
    for a contract signed here."""
    ended_at = models.DateTimeField(null=True, blank=True)
    """When the contract stopped without being concluded: rejected, cancelled or expired (the
    monthly report counts it in that month, R33); None otherwise."""
    renews = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewals"
    )
    """The earlier contract this one renews (R31): made with 「更新の契約として複製」. Once a
    renewal is drafted, running or concluded, the earlier contract gets no renewal alert."""
    last_activity_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_activity_at"]
        indexes = [
            models.Index(fields=["organisation", "status"]),
            # The staff list's keyset order under each reason to see a contract (list_page.py):
            # the organisation (admins), the department, the author.
            models.Index(
                fields=["organisation", "last_activity_at", "id"], name="contract_list_order"
            ),
            models.Index(
                fields=["organisation", "department", "last_activity_at", "id"],
                name="contract_list_department",
            ),
            models.Index(
                fields=["created_by", "last_activity_at", "id"], name="contract_list_author"
            ),
            # Exports read contracts in order of creation, by keyset (exports/walk.py).
            models.Index(fields=["organisation", "created_at", "id"], name="contract_export_order"),
            # Search ranges (R28): a date range is read through these, not by walking the
            # list's order, and sorted (docs/architecture.md, Contract search). They cover
            # what a search most often adds to a range (the department, the status) and the
            # list's order, so a range of tens of thousands of contracts is read, filtered
            # and sorted in the index alone.
            *(
                models.Index(
                    fields=[
                        "organisation",
                        column,
                        "department",
                        "status",
                        "last_activity_at",
                        "id",
                    ],
                    name=f"contract_by_{column}",
                )
                for column in ("contract_date", "completed_at", "period_end")
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_subject(self) -> str:
        """The audit log's subject for this contract (R39): `contract:<uuid>`."""
        return f"contract:{self.pk}"

    # Predicates of the state machine (states.py), for templates and services alike.
    @property
    def is_editable(self) -> bool:
        return states.contract_is_editable(self)

    @property
    def is_running(self) -> bool:
        return states.contract_is_running(self)

    @property
    def is_finished(self) -> bool:
        return states.contract_is_finished(self)

    @property
    def is_concluded(self) -> bool:
        return states.contract_is_concluded(self)

    @property
    def can_cancel(self) -> bool:
        return states.contract_can_cancel(self)

    @property
    def can_remind(self) -> bool:
        return states.contract_can_remind(self)

    @property
    def can_change_deadline(self) -> bool:
        return states.contract_can_change_deadline(self)

    @property
    def is_imported(self) -> bool:
        return states.contract_is_imported(self)

    @property
    def has_certificate(self) -> bool:
        return states.contract_has_certificate(self)


class Document(models.Model):
    """One uploaded PDF; each stored state of it is a DocumentVersion (write-once)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="documents")
    position = models.PositiveSmallIntegerField()
    filename = models.CharField(max_length=255)
    original = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    page_count = models.PositiveIntegerField()
    # [[width, height], ...] in points, as displayed (crop box, rotation applied).
    page_sizes = models.JSONField(default=list, blank=True)
    # What ingest changed beyond the plain rewrite: `keiyaku.signing.ingest.IngestChange` values.
    ingest_changes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "position"], name="document_position")
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def ingest_change_labels(self) -> list[str]:
        """What ingest changed in this file, as sentences for staff."""
        from keiyaku.signing.ingest import INGEST_CHANGE_LABELS, IngestChange

        return [
            str(INGEST_CHANGE_LABELS[IngestChange(code)])
            for code in self.ingest_changes
            if code in IngestChange._value2member_map_
        ]

    def current_version(self) -> DocumentVersion:
        version = self.versions.order_by("-seq").first()
        assert version is not None  # every document is created with its first version
        return version


class VersionKind(models.TextChoices):
    NORMALISED = "normalised", _("正規化")
    PREPARED = "prepared", _("送信準備")
    SIGNED = "signed", _("署名")
    COMPLETED = "completed", _("締結")
    RENEWED = "renewed", _("タイムスタンプ更新")
    # R30: a contract concluded elsewhere. Its first version is the file exactly as it came;
    # the next one appends the document timestamp of its import.
    IMPORTED = "imported", _("取込（原本）")
    IMPORT_STAMPED = "import_stamped", _("取込時タイムスタンプ")


class DocumentVersion(models.Model):
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=VersionKind.choices)
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    party = models.ForeignKey("Party", null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "seq"], name="document_version_seq")
        ]


class RenewalReason(models.TextChoices):
    """Why a document timestamp was added (R21): the first one at completion, later ones by
    the archival renewal (keiyaku.contracts.services.renewal)."""

    COMPLETED = "completed", _("締結時")
    IMPORTED = "imported", _("取込時")
    RECORDED = "recorded", _("記録（既存の文書）")
    TSA_EXPIRY = "tsa_expiry", _("時刻認証局の証明書の期限")
    ALGORITHM = "algorithm", _("暗号アルゴリズムの移行")


class ArchiveTimestamp(models.Model):
    """The newest document timestamp of one stored version (a completed, imported or renewed
    one): what it rests on and when it must be renewed (R21).

    One row per version that ends in a document timestamp; `current` marks the newest version
    of its document. A renewal turns the current row off and adds the next one in the
    transaction that stores the renewed version, so a timestamp is renewed at most once
    (`renews` is unique as well).
    """

    version = models.OneToOneField(
        DocumentVersion, on_delete=models.PROTECT, related_name="archive_timestamp"
    )
    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="archive_timestamps"
    )
    gen_time = models.DateTimeField()
    tsa_name = models.CharField(max_length=500)
    tsa_cert_sha256 = models.CharField(max_length=64)
    tsa_not_after = models.DateTimeField()
    digest_algorithm = models.CharField(max_length=20)
    tsa_digest_algorithm = models.CharField(max_length=20)
    key_algorithm = models.CharField(max_length=20)
    current = models.BooleanField(default=True)
    # Renewal before expiry is due from `expiry_due_at` = tsa_not_after - jitter, minus the
    # margin (KEIYAKU_RENEWAL_MARGIN_DAYS); a policy entry is due from its date + jitter. A
    # random jitter per row spreads the renewals of documents stamped under one certificate.
    jitter_seconds = models.PositiveIntegerField(default=0)
    expiry_due_at = models.DateTimeField()
    renews = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewed_by"
    )
    reason = models.CharField(max_length=20, choices=RenewalReason.choices)
    reason_detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["gen_time", "id"]
        indexes = [models.Index(fields=["current", "expiry_due_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["document"],
                condition=models.Q(current=True),
                name="archive_timestamp_one_current",
            )
        ]

    @property
    def is_renewal(self) -> bool:
        return self.reason in (RenewalReason.TSA_EXPIRY, RenewalReason.ALGORITHM)

    @property
    def reason_shown(self) -> str:
        """「時刻認証局の証明書の期限（2028-12-01）」, 「暗号アルゴリズムの移行（rsa2048 after …）」."""
        label = str(self.get_reason_display())
        return f"{label}（{self.reason_detail}）" if self.reason_detail else label


class CompletionCertificate(models.Model):
    """A certificate of completion (締結証明書, R24) as issued: the PDF, signed with the service
    key and closed with a document timestamp (PAdES B-LTA) so that it is tamper-evident like
    the contract (issue 14). It is made in the worker when the contract completes, in the
    transaction that completes it, and again when an archival renewal changes what it states
    (the documents' hashes, the renewal lines): the renewal turns `current` off, and the
    next download has the next one issued (``services.certificates``). Downloads serve the
    current one.
    """

    contract = models.ForeignKey(
        Contract, on_delete=models.PROTECT, related_name="completion_certificates"
    )
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["issued_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=models.Q(current=True),
                name="completion_certificate_one_current",
            )
        ]


class SearchText(models.Model):
    """One field (or one chunk of the documents' text) of a contract, as search tokens (R28).

    Written only by ``search_index.search_index_refresh``; read through its FTS5 table
    (SQLite) or its GIN index on ``grams::tsvector`` (PostgreSQL): see that module.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        "Document", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    """The document whose text a ``text`` row holds; None for the contract's metadata rows."""
    field = models.CharField(max_length=20)
    grams = models.TextField()


class CustomFieldKind(models.TextChoices):
    TEXT = "text", _("文字")
    NUMBER = "number", _("数値")
    DATE = "date", _("日付")
    CHOICE = "choice", _("選択肢")


class CustomField(models.Model):
    """An item an organisation adds to its contracts (issue 15: custom fields): 「予算科目」,
    「工期（日）」, 「検査日」, 「入札方式」. Set when a contract is created or imported, shown on the
    contract, searchable (text in the word index, numbers and dates by range, a choice by
    value). Retired fields keep their values but are no longer asked for."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="custom_fields"
    )
    label = models.CharField(_("項目名"), max_length=50)
    kind = models.CharField(_("種類"), max_length=10, choices=CustomFieldKind.choices)
    choices = models.JSONField(_("選択肢"), default=list, blank=True)
    required = models.BooleanField(_("必須"), default=False)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "label"], name="custom_field_label_per_organisation"
            )
        ]

    def __str__(self) -> str:
        return self.label


class CustomValue(models.Model):
    """One contract's value of one custom field, in the column of its kind (so that numbers and
    dates compare as numbers and dates: range search)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="custom_values")
    field = models.ForeignKey(CustomField, on_delete=models.PROTECT, related_name="values")
    text = models.CharField(max_length=500, blank=True)
    """A text or choice field's value."""
    number = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "field"], name="custom_value_once")
        ]
        indexes = [
            models.Index(fields=["field", "number"], name="custom_value_number"),
            models.Index(fields=["field", "date"], name="custom_value_date"),
            models.Index(fields=["field", "text"], name="custom_value_text"),
        ]

    @property
    def shown(self) -> str:
        """The value as the contract page and the CSV show it."""
        if self.number is not None:
            return f"{self.number.normalize():f}"
        if self.date is not None:
            return self.date.isoformat()
        return self.text


class SavedSearch(models.Model):
    """A staff member's saved contract search (R28): a name and the search form's fields as a
    query string. Personal: only its owner lists, opens or deletes it."""

    staff = models.ForeignKey("accounts.Staff", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名前"), max_length=100)
    query = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["staff", "name"], name="saved_search_name_per_staff")
        ]


class PartyKind(models.TextChoices):
    EXTERNAL = "external", _("事業者")
    STAFF = "staff", _("職員")


class PartyRole(models.TextChoices):
    SIGNER = "signer", _("署名")
    APPROVER = "approver", _("承認")


class AuthMethod(models.TextChoices):
    EMAIL_CODE = "email_code", _("メール認証＋アクセスコード")
    STAFF_LOGIN = "staff_login", _("職員ログイン")


class Party(models.Model):
    """A signer at one position of the routing. A forward replaces the row by a new one."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="parties")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=PartyKind.choices)
    # An approver (事前承認) is staff who approves without signing the PDF (R6).
    role = models.CharField(max_length=10, choices=PartyRole.choices, default=PartyRole.SIGNER)
    # Parties with the same step sign in parallel; steps follow one another (R6).
    parallel = models.BooleanField(_("前の署名者と同時に依頼"), default=False)
    step = models.PositiveSmallIntegerField(default=1)
    company = models.CharField(_("会社名"), max_length=200, blank=True)
    name = models.CharField(_("氏名"), max_length=200)
    email = models.EmailField(_("メールアドレス"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    access_code = models.CharField(max_length=200, blank=True)  # hashed, never sent by e-mail
    # The code is ASCII digits only: the code page asks for a numeric keypad (issue 14).
    access_code_digits = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=PartyStatus.choices, default=PartyStatus.WAITING
    )
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    forwarded_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="forwarded_to"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    # When the party first opened its request (past the access code): `party_view` (R40).
    viewed_at = models.DateTimeField(null=True, blank=True)
    # R19: the agreement record.
    agreed_at = models.DateTimeField(null=True, blank=True)
    agreed_ip = models.GenericIPAddressField(null=True, blank=True)
    agreed_user_agent = models.CharField(max_length=500, blank=True)
    auth_method = models.CharField(max_length=20, choices=AuthMethod.choices, blank=True)
    shown_sha256 = models.JSONField(default=dict, blank=True)  # document id -> SHA-256 shown
    signed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)  # rejection reason or forward note

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.company} {self.name}".strip()

    @property
    def is_approver(self) -> bool:
        return self.role == PartyRole.APPROVER

    @property
    def signature_field(self) -> str:
        return f"keiyaku-party-{self.position:02d}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    # Predicates of the state machine (states.py), for templates and services alike.
    @property
    def can_readdress(self) -> bool:
        return states.party_can_readdress(self)

    @property
    def can_unlock(self) -> bool:
        return states.party_can_unlock(self)

    @property
    def can_forward(self) -> bool:
        return states.party_can_forward(self)

    @property
    def is_done(self) -> bool:
        return states.party_is_done(self)

    @property
    def never_asked(self) -> bool:
        return states.party_never_asked(self)

    @property
    def status_label(self) -> str:
        """The state as staff read it: 「依頼されていません」 for a party the contract ended
        before asking (`party_never_asked`), else the state's name."""
        if self.never_asked:
            return gettext("依頼されていません")
        return str(self.get_status_display())


class LinkPurpose(models.TextChoices):
    SIGN = "sign", _("署名")
    DOWNLOAD = "download", _("ダウンロード")


class Link(models.Model):
    """An e-mailed link. Only the SHA-256 of its token is stored."""

    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="links")
    purpose = models.CharField(max_length=10, choices=LinkPurpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class BoxKind(models.TextChoices):
    TEXT = "text", _("テキスト")
    MULTILINE = "multiline", _("複数行テキスト")
    DATE = "date", _("日付")
    CHECKBOX = "checkbox", _("チェックボックス")


class Box(models.Model):
    """A box staff placed on a page, filled by one party when it agrees (R8).

    Position and size are PDF points from the top-left corner of the page as displayed
    (crop box, rotation applied), independent of zoom; `value` is set at the agreement.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="boxes")
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="boxes")
    page = models.PositiveIntegerField()
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    kind = models.CharField(max_length=10, choices=BoxKind.choices, default=BoxKind.TEXT)
    label = models.CharField(_("項目名"), max_length=100, blank=True)
    required = models.BooleanField(_("必須"), default=True)
    max_length = models.PositiveIntegerField(_("最大文字数"), null=True, blank=True)
    value = models.TextField(blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["document__position", "page", "y", "x", "id"]

    @property
    def field_name(self) -> str:
        return f"keiyaku-box-{self.pk}"


class ContractTemplate(models.Model):
    """A saved routing and settings for a recurring kind of contract (R13).

    `routing` holds roles, not people, for counterparties: each step is
    {"kind", "role", "parallel", "label"} and, for staff, "staff" (an id).
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="contract_templates"
    )
    name = models.CharField(_("テンプレート名"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    routing = models.JSONField(default=list)
    # Boxes by document position and routing index: {"document", "step", "page", "x", ...}.
    boxes = models.JSONField(default=list)
    allow_forwarding = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="template_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def steps_shown(self) -> list[dict]:
        """The routing as screens show it: a counterparty's slot is named in the reader's
        language (「事業者1」, "Company 1"), a staff step by the person's name."""
        shown, number = [], 0
        for step in self.routing:
            if step["kind"] == PartyKind.EXTERNAL:
                number += 1
                label = gettext("事業者%(number)d") % {"number": number}
            else:
                label = step.get("label", "")
            shown.append({**step, "label": label})
        return shown

    @property
    def external_slots(self) -> list[dict]:
        return [step for step in self.steps_shown if step["kind"] == PartyKind.EXTERNAL]


class ContractShare(models.Model):
    """A contract shared with one staff member or one department beyond its own (R29)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="shares")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contract_shares",
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contract_shares",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(staff__isnull=False, department__isnull=True)
                    | models.Q(staff__isnull=True, department__isnull=False)
                ),
                name="contract_share_one_target",
            ),
            models.UniqueConstraint(fields=["contract", "staff"], name="contract_share_staff"),
            models.UniqueConstraint(
                fields=["contract", "department"], name="contract_share_department"
            ),
        ]


class RenewalAlertKind(models.TextChoices):
    """The date a renewal alert is about (R31)."""

    PERIOD_END = "period_end", _("契約期間の終了")
    NOTICE_DEADLINE = "notice_deadline", _("更新拒絶の通知期限")


class RenewalAlert(models.Model):
    """One renewal alert as sent (R31): the row is written in the transaction that queues its
    mails, and the unique constraint makes it once per contract, date kind, days before and
    date, however many runs or workers try (`services.renewal_alerts`)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="renewal_alerts")
    kind = models.CharField(max_length=20, choices=RenewalAlertKind.choices)
    days_before = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    """The period end or notice deadline the alert was about, as it was then."""
    recipients = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind", "days_before", "due_date"], name="renewal_alert_once"
            )
        ]


class JobFailure(models.Model):
    """One failed run of a contract's signature job (signature, completion, certificate):
    `retried` says whether it runs again (a retry or the TSA wait) or was given up. The
    operating record of the monthly report (R33) counts them."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    job = models.CharField(max_length=40)
    retried = models.BooleanField()
    error = models.TextField(blank=True)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["occurred_at", "id"]


class RemovableQuerySet(models.QuerySet):
    """Rows staff may remove without destroying them (電子帳簿保存法's 訂正削除の履歴): a removed
    row keeps its values and says who removed it, when and why (``removed_*``)."""

    def current(self) -> RemovableQuerySet:
        """Those not removed: what the contract's page lists, search finds and a result's ZIP
        carries."""
        return self.filter(removed_at__isnull=True)

    def removed(self) -> RemovableQuerySet:
        """Those removed: the contract's 「削除・訂正の履歴」 and the organisation's export."""
        return self.filter(removed_at__isnull=False)


def _removal_constraint(name: str) -> models.CheckConstraint:
    """A removal names its time, its actor and its reason, or none of them."""
    return models.CheckConstraint(
        condition=models.Q(removed_at__isnull=True, removed_by__isnull=True, removed_reason="")
        | (
            models.Q(removed_at__isnull=False, removed_by__isnull=False)
            & ~models.Q(removed_reason="")
        ),
        name=name,
    )


class Attachment(models.Model):
    """A file kept with a contract that is not part of it (R32): never signed, never sent for
    signing, shown apart from the contract's documents (「添付ファイル（署名対象外）」) and stored
    as uploaded, sealed with the contract's data key. A surety's 「認証キーのお知らせ」 is one.
    Added in any state (`services.sureties.attachment_add`); removed, never destroyed
    (`services.sureties.attachment_remove`: the row and its file stay, marked removed)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(_("ファイル名"), max_length=255)
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField()
    removed_at = models.DateTimeField(_("削除日時"), null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_reason = models.TextField(_("削除の理由"), blank=True)

    objects = RemovableQuerySet.as_manager()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [_removal_constraint("attachment_removal_complete")]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None


class SuretyKind(models.TextChoices):
    """What an electronic surety (電子保証) guarantees (R32)."""

    ADVANCE_PAYMENT = "advance_payment", _("前払金保証")
    PERFORMANCE = "performance", _("契約保証")
    OTHER = "other", _("その他")


class Surety(models.Model):
    """An electronic surety (電子保証) given for a contract (R32): a 保証事業会社's guarantee,
    checked on the issuer's site with its 保証契約番号 and 認証キー. A contract may have several
    (a 前払金保証 and a 契約保証). The 認証キー lets anyone holding it see the guarantee, so it
    is sealed with the master key (`crypto.SURETY_KEY_PURPOSE`) and shown only on the contract's
    page; the 保証契約番号 is searchable (`number_normalised`, `search.SearchConditions`)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="sureties")
    kind = models.CharField(_("保証の種類"), max_length=20, choices=SuretyKind.choices)
    issuer = models.CharField(_("保証事業会社"), max_length=200)
    number = models.CharField(_("保証契約番号"), max_length=100)
    """As typed (kept for display)."""
    number_normalised = models.CharField(max_length=100, db_index=True)
    """`search_index.normalise` of ``number``: NFKC, case folded, hyphens and spaces dropped."""
    auth_key_sealed = models.TextField(blank=True)
    """The 認証キー, sealed (`crypto.seal_text`, purpose ``surety-key``); empty when not given."""
    amount = models.PositiveBigIntegerField(_("保証金額（円）"), null=True, blank=True)
    period_start = models.DateField(_("保証期間（開始）"), null=True, blank=True)
    period_end = models.DateField(_("保証期間（終了）"), null=True, blank=True)
    notice = models.OneToOneField(
        Attachment, null=True, blank=True, on_delete=models.PROTECT, related_name="surety"
    )
    """The issuer's 「認証キーのお知らせ」 PDF, kept as one of the contract's attachments."""
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField()
    removed_at = models.DateTimeField(_("削除日時"), null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_reason = models.TextField(_("削除の理由"), blank=True)

    objects = RemovableQuerySet.as_manager()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [_removal_constraint("surety_removal_complete")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None


class SuretyCorrection(models.Model):
    """One correction of a surety (R32; 電子帳簿保存法's 訂正削除の履歴): the values the surety
    held **before** it, who corrected it, when and why. The surety's row holds the current
    values (what search finds); the values after a correction are those of the next correction
    or, for the last one, the surety's own. Written only by `services.sureties.surety_correct`."""

    surety = models.ForeignKey(Surety, on_delete=models.PROTECT, related_name="corrections")
    kind = models.CharField(max_length=20, choices=SuretyKind.choices)
    issuer = models.CharField(max_length=200)
    number = models.CharField(max_length=100)
    auth_key_sealed = models.TextField(blank=True)
    """The previous 認証キー, sealed as `Surety.auth_key_sealed` (and re-sealed by rotation)."""
    amount = models.PositiveBigIntegerField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    notice = models.ForeignKey(
        Attachment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    """The notice PDF before the correction (replaced by it when a new one was given)."""
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField()
    reason = models.TextField(_("訂正の理由"))

    class Meta:
        ordering = ["corrected_at", "id"]
