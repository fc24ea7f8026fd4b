"""Verifications, their steps, and the newest checkpoint this portal has verified."""

import secrets
from typing import TYPE_CHECKING

from django.db import models

from verification import steps

if TYPE_CHECKING:
    from verification.record_check import RecordCheck


def new_id() -> str:
    """An unguessable verification id (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def new_certificate_number() -> str:
    """A certificate number: unguessable like a record code (85 bits, check character)."""
    from documents.codes import new_code

    return new_code()


class Verification(models.Model):
    """One request to check a file, a digest or a record code against the ledger."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中 Pending"
        RUNNING = "running", "核验中 Running"
        DONE = "done", "已完成 Done"

    class Outcome(models.TextChoices):
        VERIFIED = "verified", "核验通过 Verified"
        NOT_FOUND = "not_found", "未找到 Not found"
        MISMATCH = "mismatch", "内容不一致 Not identical"
        INCONCLUSIVE = "inconclusive", "无法核验 Could not be checked"
        # The portal's rows about the record disagree with the court's ledger.
        CONFLICT = "conflict", "与账本不符 Disagrees with the ledger"

    class Source(models.TextChoices):
        UPLOAD = "upload", "文件上传 File upload"
        BROWSER = "browser", "浏览器计算摘要 Digest computed in the browser"
        DIGEST = "digest", "摘要 Digest"
        CODE = "code", "核验码 Record code"
        PHOTO = "photo", "二维码照片 QR photo"
        BATCH = "batch", "批量 Batch"

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    sha256 = models.CharField(max_length=64, blank=True)
    sm3 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=18, blank=True, help_text="record code given, canonical")
    record = models.ForeignKey(
        "documents.Record",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="verifications",
    )
    batch = models.CharField(max_length=32, blank=True, db_index=True)
    batch_position = models.PositiveIntegerField(null=True, blank=True)
    ledger_index = models.BigIntegerField(null=True, blank=True)
    tree_size = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The number of its certificate, known from the start so that answers and pages can
    # link the certificate before it is rendered (on its first download, certificate.issue).
    certificate_number = models.CharField(
        max_length=18, unique=True, default=new_certificate_number, editable=False
    )
    # When tasks.sweep last queued its job again (null: queued once, when it was made).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Not a field: the step rows, when this instance was checked and saved in this process
    # (tasks._save), so its answer is built from memory instead of read back.
    checked_steps: list | None = None
    # Not a field: the record's check against the ledger (record_check.RecordCheck), when
    # this instance was checked in this process, so its answer needs no second look-up.
    record_check: "RecordCheck | None" = None
    # Not a field: the record as the ledger proved it when its certificate was made.
    record_face: dict | None = None

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("view_full_record", "Can see records unmasked and their verification history"),
        ]
        indexes = [  # what tasks.sweep looks for: few rows among many finished ones
            models.Index(
                fields=["created_at"],
                condition=~models.Q(status="done"),
                name="verification_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.outcome or self.status}"

    def outcome_now(self, ledger_agrees: bool | None) -> str:
        """The outcome to show now ("" while it runs): the one stored, except conflict when
        the record's rows disagree with the ledger (`ledger_agrees` False, from
        record_check) or when a verified record is not the one the digests or code given
        name. With the record checked against the ledger, a "verified" row of another
        file or code is then never shown verified."""
        if self.outcome == self.Outcome.CONFLICT or ledger_agrees is False:
            return self.Outcome.CONFLICT
        if self.outcome == self.Outcome.VERIFIED and not self._given_names_the_record():
            return self.Outcome.CONFLICT
        return self.outcome

    def _given_names_the_record(self) -> bool:
        record = self.record
        if record is None:  # a ledger entry without a record row: nothing here to compare
            return True
        pairs = [
            (given.lower(), recorded.lower())
            for given, recorded in (
                (self.sha256, record.sha256),
                (self.sm3, record.sm3),
                (self.code, record.code),
            )
            if given
        ]
        return bool(pairs) and all(g == r for g, r in pairs)


class VerificationStep(models.Model):
    """One check of a verification, with its result and plain explanation."""

    class Status(models.TextChoices):
        PASSED = "passed", "通过 Passed"
        FAILED = "failed", "未通过 Failed"
        INCONCLUSIVE = "inconclusive", "未能核验 Could not be checked"

    verification = models.ForeignKey(Verification, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=Status.choices)
    explanation_zh = models.TextField()
    explanation_en = models.TextField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["verification", "position"], name="one_step_per_position"
            )
        ]

    @property
    def title_zh(self) -> str:
        return steps.title(self.name)[0]

    @property
    def title_en(self) -> str:
        return steps.title(self.name)[1]


class TrustedCheckpoint(models.Model):
    """The newest checkpoint this portal verified; later ones must be consistent with it."""

    tree_size = models.BigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    note = models.TextField()
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        get_latest_by = "tree_size"


class Certificate(models.Model):
    """The signed PDF and the proof bundle of a finished verification, as rendered on first
    request and kept for CERTIFICATE_RETENTION_DAYS; `number` is the verification's
    certificate_number, so a certificate rendered again keeps it."""

    number = models.CharField(
        primary_key=True, max_length=18, default=new_certificate_number, editable=False
    )
    verification = models.OneToOneField(
        Verification, on_delete=models.CASCADE, related_name="certificate"
    )
    pdf = models.FileField(upload_to="certificates/")
    bundle = models.TextField(help_text="the proof bundle, JSON (also attached to the PDF)")
    development = models.BooleanField(
        default=False, help_text="signed with the embedded default's development CA"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.number
