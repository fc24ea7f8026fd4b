"""Courts, their API credentials, records and the service (送达) of litigation documents.

Each record and each service event is a ledger entry; these rows hold what the ledger
must not: titles, parties, addressees, and the salts that keep their digests private.
"""

import hashlib
import mimetypes
import re
import secrets
from pathlib import PurePosixPath

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from documents import codes
from plumbing.visible_input import VisibleText


class Court(models.Model):
    """A court whose systems record files in the ledger."""

    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
        help_text=_("Short stable identifier, e.g. BJ0105. Written into every ledger leaf."),
        verbose_name=_("code"),
    )
    name_zh = models.CharField(
        _("name (Chinese)"), max_length=200, validators=[VisibleText("name_zh")]
    )
    name_en = models.CharField(
        _("name (English)"), max_length=200, validators=[VisibleText("name_en")]
    )
    # Where a litigant asks about a file the ledger does not hold or that disagrees with
    # it: shown on those results and on /courts. Directory details, not ledger facts.
    phone = models.CharField(
        _("telephone"), max_length=50, blank=True, validators=[VisibleText("phone")]
    )
    address_zh = models.CharField(
        _("address (Chinese)"), max_length=300, blank=True, validators=[VisibleText("address_zh")]
    )
    address_en = models.CharField(
        _("address (English)"), max_length=300, blank=True, validators=[VisibleText("address_en")]
    )
    website = models.URLField(
        blank=True, help_text=_("The court's own site (https://...)."), verbose_name=_("website")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("court")
        verbose_name_plural = _("courts")

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"

    @property
    def has_contact(self) -> bool:
        return bool(self.phone or self.address_zh or self.address_en or self.website)


def token_digest(token: str) -> str:
    """How a credential is stored: the SHA-256 of the token, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class CourtToken(models.Model):
    """An API credential of one court's systems; stored hashed, revocable."""

    court = models.ForeignKey(
        Court, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("court")
    )
    label = models.CharField(
        max_length=100, blank=True, help_text=_("Which system holds it."), verbose_name=_("label")
    )
    prefix = models.CharField(
        max_length=8, help_text=_("First characters, to recognise it."), verbose_name=_("prefix")
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked"))

    class Meta:
        verbose_name = _("court token")
        verbose_name_plural = _("court tokens")

    @classmethod
    def issue(cls, court: Court, label: str = "") -> tuple["CourtToken", str]:
        """Create a credential and return it with the token, which is shown only once."""
        token = "jvp_" + secrets.token_urlsafe(32)
        row = cls.objects.create(
            court=court, label=label, prefix=token[:8], digest=token_digest(token)
        )
        return row, token

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.court.code})"


class TokenUse(models.Model):
    """One use of a court credential: who called what, and how it ended."""

    token = models.ForeignKey(
        CourtToken, on_delete=models.CASCADE, related_name="uses", verbose_name=_("token")
    )
    # Set when the row is made (the request), not when it is written: rows are written in
    # bulk up to COURT_AUDIT_FLUSH_SECONDS later (documents/audit.py).
    at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("at"))
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=300, verbose_name=_("path"))
    status = models.PositiveSmallIntegerField(verbose_name=_("status"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))

    class Meta:
        ordering = ["-at"]
        verbose_name = _("token use")
        verbose_name_plural = _("token uses")


class Record(models.Model):
    """A file a court recorded: its digests, metadata, code and ledger entry."""

    class Category(models.TextChoices):
        LITIGATION_DOCUMENT = "litigation_document", "诉讼文书 Litigation document"
        EVIDENCE = "evidence", "电子证据 Electronic evidence"
        MEDIATION = "mediation", "调解数据 Mediation data"

    code = models.CharField(max_length=18, unique=True, verbose_name=_("record code"))
    court = models.ForeignKey(
        Court, on_delete=models.PROTECT, related_name="records", verbose_name=_("court")
    )
    category = models.CharField(max_length=32, choices=Category.choices, verbose_name=_("category"))
    title = models.CharField(max_length=300, verbose_name=_("title"))
    case_number = models.CharField(max_length=100, blank=True, verbose_name=_("case number"))
    parties = models.JSONField(default=list, blank=True, verbose_name=_("parties"))
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("SHA-256"))
    sm3 = models.CharField(max_length=64, db_index=True, verbose_name=_("SM3"))
    size = models.BigIntegerField(null=True, blank=True, verbose_name=_("size (bytes)"))
    media_type = models.CharField(max_length=100, blank=True, verbose_name=_("media type"))
    filename = models.CharField(max_length=255, blank=True, verbose_name=_("file name"))
    # Kept only when the portal stamped it or the court allows downloads.
    file = models.FileField(upload_to="records/", blank=True, verbose_name=_("file"))
    stamped = models.BooleanField(default=False, verbose_name=_("stamped"))
    allow_download = models.BooleanField(default=False, verbose_name=_("downloads allowed"))
    metadata_salt = models.BinaryField(max_length=16, editable=False)
    recorded_at = models.DateTimeField(
        help_text=_("The time written in the ledger leaf."), verbose_name=_("recorded")
    )
    submission = models.BigIntegerField(unique=True, editable=False)
    ledger_index = models.BigIntegerField(
        null=True, blank=True, unique=True, verbose_name=_("ledger index")
    )
    # The court request (sent with an Idempotency-Key) that made the row, so that a retry
    # after that request's process died answers for it instead of recording it again.
    claim = models.ForeignKey(
        "IdempotentRequest",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # Not a field: the leaf bytes this process submitted for the row, which its submitter
    # compares with the integrated entry (documents.ledger.await_ledger).
    submitted_leaf: bytes | None = None

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("record")
        verbose_name_plural = _("records")

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def display_code(self) -> str:
        """Its code as printed: 7K3M9Q-XD4RTW-2HVBPZ."""
        return codes.display(self.code)

    def download_name(self) -> str:
        """The name its file is downloaded under: the record code and an extension that
        opens it (a stamped file is a PDF; else the original's, or its media type's)."""
        if self.stamped or self.media_type == "application/pdf":
            extension = ".pdf"
        else:
            extension = PurePosixPath(self.filename).suffix.lower()
            if not re.fullmatch(r"\.[a-z0-9]{1,8}", extension):
                extension = mimetypes.guess_extension(self.media_type or "") or ""
        return f"{codes.display(self.code)}{extension}"


class Addressee(models.Model):
    """A person a litigation document is served on, with their personal service link."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="addressees")
    name = models.CharField(max_length=200)
    contact = models.CharField(max_length=200, blank=True)
    link_digest = models.CharField(max_length=64, unique=True, editable=False)
    salt = models.BinaryField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "name", "contact"], name="one_addressee_per_contact"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ServiceEvent(models.Model):
    """One step of the service of a litigation document; each is its own ledger entry."""

    class Event(models.TextChoices):
        ISSUED = "issued", "已签发 Issued"
        SENT = "sent", "已送出 Sent"
        OPENED = "opened", "已查阅 Opened"
        ACKNOWLEDGED = "acknowledged", "已签收 Acknowledged"

    class Channel(models.TextChoices):
        PLATFORM = "platform", "平台 Platform"
        SMS = "sms", "短信 SMS"
        EMAIL = "email", "电子邮件 E-mail"
        POST = "post", "邮寄 Post"

    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="events", verbose_name=_("record")
    )
    event = models.CharField(max_length=16, choices=Event.choices, verbose_name=_("event"))
    channel = models.CharField(
        max_length=16, choices=Channel.choices, blank=True, verbose_name=_("channel")
    )
    addressee = models.ForeignKey(
        Addressee,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("addressee"),
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    details_salt = models.BinaryField(max_length=16, editable=False)
    occurred_at = models.DateTimeField(verbose_name=_("occurred"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded"))
    submission = models.BigIntegerField(unique=True, editable=False)
    ledger_index = models.BigIntegerField(
        null=True, blank=True, unique=True, verbose_name=_("ledger index")
    )
    claim = models.ForeignKey(  # as on Record
        "IdempotentRequest",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    submitted_leaf: bytes | None = None  # as on Record

    class Meta:
        ordering = ["occurred_at", "recorded_at"]
        verbose_name = _("service event")
        verbose_name_plural = _("service events")

    def __str__(self) -> str:
        return f"{self.record.code} {self.event}"


class IdempotentRequest(models.Model):
    """A court request sent with an Idempotency-Key header: claimed by the request running
    it (a lease: `owner` until `lease_until`), then its first answer.

    documents/idempotency.py says how a retry uses it.
    """

    court = models.ForeignKey(Court, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)  # null while the first is running
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    owner = models.CharField(max_length=32, default="", editable=False)
    lease_until = models.DateTimeField(null=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["court", "key"], name="one_answer_per_key")]
