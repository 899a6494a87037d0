"""Credit records: the 12315 intake (consultations, complaints, reports), counter visits, Red
Shield spot checks, credit events, each merchant's standing and its history."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.kernel.models import Account, Area, Merchant


class ComplaintStatus(StrEnum):
    RECEIVED = "received"  # registered, not yet accepted or rejected
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MEDIATING = "mediating"
    CLOSED = "closed"  # mediation reached an outcome
    TERMINATED = "terminated"  # mediation ended without agreement


FINAL_STATUSES = frozenset(
    {ComplaintStatus.REJECTED, ComplaintStatus.CLOSED, ComplaintStatus.TERMINATED}
)


class IntakeKind(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class Channel(StrEnum):
    HOTLINE = "hotline"  # the 12315 telephone line
    WEB = "web"  # the national 12315 internet platform
    WECHAT = "wechat"
    SMS = "sms"
    QQ = "qq"
    WALK_IN = "walk_in"
    LETTER = "letter"
    OTHER = "other"


class Handler(StrEnum):
    CONSUMER_ASSOCIATION = "consumer_association"  # 消费者协会
    REGULATOR = "regulator"  # 市场监管部门 (formerly 工商)


class Resolution(StrEnum):
    MEDIATED = "mediated"  # 调解成功
    MERCHANT_ODR = "merchant_odr"  # settled by the merchant through online dispute resolution
    PEOPLE_MEDIATION = "people_mediation"  # 人民调解
    COURT_MEDIATION = "court_mediation"  # 诉调对接
    WITHDRAWN = "withdrawn"  # 撤诉
    REFUSED = "refused"  # 不予受理
    TERMINATED = "terminated"  # 终止调解


class Followup(StrEnum):
    """The follow-up visit (回访): how satisfied the consumer said they were."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    NOT_REACHED = "not_reached"


class Complaint(Model):
    """One record of the 12315 intake — a consultation, a complaint or a report — as the
    platform reports it. A feed resends a record as it moves on, so the latest report wins,
    keyed by (source, external id). Money is kept in fen.

    The party complained about need not be in the register: then ``merchant`` is empty and
    the party's name, address and USCC are kept, and the record is linked (and counts in
    credit) once a merchant with that USCC is registered."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=64)
    external_id = fields.CharField(max_length=128)
    kind = fields.CharEnumField(IntakeKind, max_length=16, default=IntakeKind.COMPLAINT)
    channel = fields.CharEnumField(Channel, max_length=16, null=True)
    handled_by = fields.CharEnumField(Handler, max_length=24, default=Handler.REGULATOR)
    # The district or county bureau that handles it; empty: the city bureau itself (市本级).
    handling_district: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="handled_records", null=True, on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyNullableRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="complaints", null=True, on_delete=fields.RESTRICT
    )
    party_name = fields.CharField(max_length=200, default="")
    party_address = fields.CharField(max_length=300, default="")
    party_uscc = fields.CharField(max_length=18, null=True, db_index=True)
    received_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(ComplaintStatus, max_length=16)
    category = fields.CharField(max_length=32)
    amount_disputed_fen = fields.BigIntField(default=0)
    amount_recovered_fen = fields.BigIntField(default=0)
    upheld = fields.BooleanField(null=True)
    # The kind of commitment the merchant broke
    # (certificates.commitments.models.CommitmentKind), if the
    # complaint says so: an upheld one weighs more in credit.
    broken_commitment = fields.CharField(max_length=16, null=True)
    resolution = fields.CharEnumField(Resolution, max_length=24, null=True)
    followup = fields.CharEnumField(Followup, max_length=24, null=True)
    followup_at = fields.DatetimeField(null=True)
    # Working-day deadlines (Asia/Shanghai dates), kept so figures need no calendar; a
    # consultation has none.
    accept_due = fields.DateField(null=True)
    mediation_due = fields.DateField(null=True)
    overdue_since = fields.DateField(null=True)
    recorded_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    merchant_id: int | None
    handling_district_id: int | None

    class Meta:
        table = "complaint"
        unique_together = (("source", "external_id"),)
        indexes = (("received_at",), ("merchant_id", "received_at"))


class CounterVisit(Model):
    """A tally of people received in person (接待来访、咨询) on one day at one desk: bureaus
    count visitors, they do not register each one. Resent tallies replace, keyed by (source,
    external id)."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=64)
    external_id = fields.CharField(max_length=128)
    day = fields.DateField()  # Asia/Shanghai
    handled_by = fields.CharEnumField(Handler, max_length=24, default=Handler.REGULATOR)
    district: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="counter_visits", null=True, on_delete=fields.RESTRICT
    )
    visits = fields.IntField(default=0)  # 来访 (person-times)
    consultations = fields.IntField(default=0)  # 咨询 answered at the counter
    recorded_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    district_id: int | None

    class Meta:
        table = "counter_visit"
        unique_together = (("source", "external_id"),)
        indexes = (("day",),)


class SpotCheckCampaign(Model):
    """A Red Shield (红盾) quality campaign: rounds of sampling goods in circulation."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    year = fields.IntField()
    district: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="spot_check_campaigns", null=True, on_delete=fields.RESTRICT
    )
    recorded_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    district_id: int | None

    class Meta:
        table = "spot_check_campaign"


class SpotCheckRound(Model):
    id = fields.IntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[SpotCheckCampaign] = fields.ForeignKeyField(
        "models.SpotCheckCampaign", related_name="rounds", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    held_on = fields.DateField()  # Asia/Shanghai

    campaign_id: int

    class Meta:
        table = "spot_check_round"
        unique_together = (("campaign", "number"),)


class SpotCheckBatch(Model):
    """One batch of goods sampled in a round. A failed batch names the merchant it was taken
    from (registered or not, like an intake record's party) and becomes a credit event."""

    id = fields.BigIntField(primary_key=True)
    round: fields.ForeignKeyRelation[SpotCheckRound] = fields.ForeignKeyField(
        "models.SpotCheckRound", related_name="batches", on_delete=fields.CASCADE
    )
    batch_no = fields.CharField(max_length=64)
    category = fields.CharField(max_length=64)  # the product category sampled
    merchant: fields.ForeignKeyNullableRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="spot_check_batches", null=True, on_delete=fields.RESTRICT
    )
    party_name = fields.CharField(max_length=200, default="")
    party_uscc = fields.CharField(max_length=18, null=True, db_index=True)
    failed = fields.BooleanField(default=False)
    case_opened = fields.BooleanField(default=False)  # 立案查处

    round_id: int
    merchant_id: int | None

    class Meta:
        table = "spot_check_batch"
        unique_together = (("round", "batch_no"),)


class CreditEvent(Model):
    """One fact that moves the credit of a merchant. Facts do not change: a resend with the same
    (source, external ref) is a no-op."""

    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="credit_events", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    occurred_at = fields.DatetimeField()
    source = fields.CharField(max_length=64)
    external_ref = fields.CharField(max_length=128)
    note = fields.TextField(default="")
    risk_class = fields.CharField(max_length=1, null=True)  # external_class only
    recorded_at = fields.DatetimeField(auto_now_add=True)
    # Set when an official approved its credit repair (CreditRepair): from then on the event
    # no longer counts in credit. It is kept, never deleted: the record of what happened.
    repaired_at = fields.DatetimeField(null=True)

    merchant_id: int

    class Meta:
        table = "credit_event"
        unique_together = (("source", "external_ref"),)
        indexes = (("merchant_id", "occurred_at"),)


class CreditStanding(Model):
    """The current credit of a merchant. No row means no events yet, so the starting score."""

    # Its own key: Tortoise's migration detector keeps re-altering a one-to-one primary key.
    id = fields.IntField(primary_key=True)
    merchant: fields.OneToOneRelation[Merchant] = fields.OneToOneField(
        "models.Merchant", related_name="credit", on_delete=fields.CASCADE
    )
    score = fields.FloatField()
    risk_class = fields.CharField(max_length=1)
    abnormal_listed = fields.BooleanField(default=False)
    serious_listed = fields.BooleanField(default=False)
    external_class = fields.CharField(max_length=1, null=True)
    rules_version = fields.CharField(max_length=32)
    updated_at = fields.DatetimeField()

    merchant_id: int

    class Meta:
        table = "credit_standing"
        indexes = (("risk_class",),)


class CreditChange(Model):
    """Every change of the score or class of a merchant, with the events that came with it."""

    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="credit_changes", on_delete=fields.CASCADE
    )
    changed_at = fields.DatetimeField()
    old_score = fields.FloatField()
    old_class = fields.CharField(max_length=1)
    new_score = fields.FloatField()
    new_class = fields.CharField(max_length=1)
    cause = fields.CharField(max_length=16)  # events, recompute
    event_ids: list[int] = fields.JSONField(default=list)
    rules_version = fields.CharField(max_length=32)

    merchant_id: int

    class Meta:
        table = "credit_change"
        indexes = (("merchant_id", "changed_at"),)


class RepairStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class CreditRepair(Model):
    """A merchant's application for credit repair (信用修复) of one credit event — a penalty
    or a listing — with its signed pledge (守信承诺书) and its evidence of the correction, and
    the official's decision. At most one pending application per event: a partial unique
    index (migration 0023, raw SQL) holds it whatever simultaneous requests see."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="credit_repairs", on_delete=fields.RESTRICT
    )
    event: fields.ForeignKeyRelation[CreditEvent] = fields.ForeignKeyField(
        "models.CreditEvent", related_name="repairs", on_delete=fields.RESTRICT
    )
    # The merchant's district when it applied, so that a district's official finds its own.
    district: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="credit_repairs", on_delete=fields.RESTRICT
    )
    applicant: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="credit_repairs", null=True, on_delete=fields.SET_NULL
    )
    applicant_name = fields.CharField(max_length=100)
    correction = fields.TextField()  # what the merchant did to correct the fault
    # The pledge as signed: the name typed under it, the rule table it came from and the
    # SHA-256 of its text (the text itself is in that table).
    signatory = fields.CharField(max_length=100)
    pledge_version = fields.CharField(max_length=32)
    pledge_sha256 = fields.CharField(max_length=64)
    status = fields.CharEnumField(RepairStatus, max_length=16, db_index=True)
    submitted_at = fields.DatetimeField()
    decide_by = fields.DateField()  # Asia/Shanghai, working days from submission
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=100, null=True)
    decision_reason = fields.TextField(default="")
    is_demo = fields.BooleanField(default=False)

    merchant_id: int
    event_id: int
    district_id: int
    applicant_id: int | None

    class Meta:
        table = "credit_repair"
        indexes = (("merchant_id", "status"), ("district_id", "status"), ("event_id", "status"))


class CreditRepairFile(Model):
    """A file of evidence for a repair, kept under the data directory by its content's hash."""

    id = fields.IntField(primary_key=True)
    repair: fields.ForeignKeyRelation[CreditRepair] = fields.ForeignKeyField(
        "models.CreditRepair", related_name="files", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    media_type = fields.CharField(max_length=32)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    uploaded_at = fields.DatetimeField()

    repair_id: int

    class Meta:
        table = "credit_repair_file"
