"""Shared entities: areas, merchants, accounts, API tokens and the audit log."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AreaKind(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    SCENIC_SPOT = "scenic_spot"


class MerchantCategory(StrEnum):
    CATERING = "catering"
    RETAIL = "retail"
    LODGING = "lodging"
    TOURISM = "tourism_services"
    ENTERTAINMENT = "entertainment"
    SERVICES = "personal_services"
    AUTOMOTIVE = "automotive"
    HEALTH = "pharmacy_health"


class MerchantStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Role(StrEnum):
    MERCHANT = "merchant"
    OFFICIAL = "official"
    ADMIN = "admin"
    FEED = "feed"
    # A street's or scenic spot's management, applying for its area's certificate.
    AREA_MANAGER = "area_manager"


class Area(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    kind = fields.CharEnumField(AreaKind, max_length=16, db_index=True)
    name_zh = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=200)
    parent: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    parent_id: int | None

    class Meta:
        table = "area"
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


class Merchant(Model):
    id = fields.IntField(primary_key=True)
    uscc = fields.CharField(max_length=18, unique=True)
    # An official accepted a legal pilot code whose check character fails GB 32100.
    uscc_override = fields.BooleanField(default=False)
    name = fields.CharField(max_length=200, db_index=True)
    category = fields.CharEnumField(MerchantCategory, max_length=32, db_index=True)
    address = fields.CharField(max_length=300, default="")
    district: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="district_merchants", on_delete=fields.RESTRICT
    )
    street: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="street_merchants", null=True, on_delete=fields.RESTRICT
    )
    scenic_spot: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="scenic_merchants", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(
        MerchantStatus, max_length=16, default=MerchantStatus.ACTIVE, db_index=True
    )
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    district_id: int
    street_id: int | None
    scenic_spot_id: int | None

    class Meta:
        table = "merchant"
        ordering = ("uscc",)

    def __str__(self) -> str:
        return f"{self.uscc} {self.name}"


class Account(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    merchant: fields.ForeignKeyNullableRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="accounts", null=True, on_delete=fields.RESTRICT
    )
    # A district bureau's official sees and acts on its district only (service/kernel/scope.py);
    # null for the city bureau's officials and for every other role.
    district: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="officials", null=True, on_delete=fields.RESTRICT
    )
    # The street or scenic spot an area manager's account manages; null for every other role.
    area: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="managers", null=True, on_delete=fields.RESTRICT
    )
    active = fields.BooleanField(default=True)
    failed_logins = fields.IntField(default=0)
    # Every session remembers the epoch it was opened in and is honoured only while it is
    # still the account's: raising it ends every session of the account at once (a new
    # password, a lock, a changed role). A database default, so rows older than the column
    # start at 0 and the sessions open when it was added stay valid.
    session_epoch = fields.IntField(default=0, db_default=0)
    locked_until = fields.DatetimeField(null=True)
    last_login_at = fields.DatetimeField(null=True)
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    merchant_id: int | None
    district_id: int | None
    area_id: int | None

    class Meta:
        table = "account"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    role = fields.CharEnumField(Role, max_length=16)
    # SHA-256 of the token: tokens carry 256 random bits, so a slow hash adds nothing.
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PasswordReset(Model):
    """A one-time code an official gave a merchant or area manager who forgot the password
    (service/kernel/passwords.py): only its hash is kept; it is spent by its first good use,
    by a newer code for the same account, or by too many wrong guesses, and expires."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="password_resets", on_delete=fields.CASCADE
    )
    # SHA-256 of the code: it carries about 60 random bits and dies within a day, and wrong
    # guesses are counted (``attempts``), so a slow hash adds nothing.
    code_hash = fields.CharField(max_length=64, unique=True)
    issued_by = fields.CharField(max_length=100)
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    # Set when the code can no longer be used for another reason than its use: a newer
    # code, or too many wrong guesses.
    revoked_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)

    account_id: int

    class Meta:
        table = "password_reset"
        indexes = (("account_id", "used_at"),)


class AuditEvent(Model):
    """One entry of the tamper-evident audit log.

    ``hash`` covers this event's content and ``prev_hash``; changing or deleting any row
    breaks every hash after it (checked by ``fangxin audit verify``).
    """

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=64, db_index=True)
    subject = fields.CharField(max_length=200, db_index=True)
    details: dict[str, object] = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_event"
        ordering = ("id",)


class OutboxMessage(Model):
    """A notification for other systems, written in the transaction of the change it reports
    and delivered afterwards (at least once) to the configured webhook."""

    id = fields.BigIntField(primary_key=True)
    topic = fields.CharField(max_length=64)
    payload: dict[str, object] = fields.JSONField()
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("delivered_at", "next_attempt_at"),)


class JobOutcome(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class JobRun(Model):
    """One run of a periodic job for one scheduled slot (service/jobs.py).

    The unique (job, slot) pair is the lease: every worker that reaches a slot tries to insert
    its row, one succeeds and runs the job, the others see the row and skip it. ``lease_until``
    is renewed while the run lasts, so a row left ``running`` past it tells that its worker
    stopped without finishing."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=32)
    slot = fields.DatetimeField()
    worker = fields.CharField(max_length=100)
    started_at = fields.DatetimeField()
    lease_until = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    outcome = fields.CharEnumField(JobOutcome, max_length=16)
    error: str | None = fields.TextField(null=True)
    details: dict[str, object] = fields.JSONField(default=dict)

    class Meta:
        table = "job_run"
        unique_together = (("job", "slot"),)
