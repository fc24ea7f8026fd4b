"""The ledger's tables. Entries, full tiles and checkpoints are append-only rows.

Partial tiles are not stored: a partial tile at level 0 is read from the entries, at
level L > 0 from the roots of the full tiles one level down, so no row ever changes.
Submissions are the sequencer's pool, deleted once integrated; they are not ledger rows.
"""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Submission(models.Model):
    """A leaf waiting to be integrated. Committed before the submitter waits."""

    data = models.BinaryField(verbose_name=_("data"))
    submitted_at = models.DateTimeField(auto_now_add=True, verbose_name=_("submitted"))

    class Meta:
        verbose_name = _("pending submission")
        verbose_name_plural = _("pending submissions")


class Entry(models.Model):
    """One log entry: its index, its leaf bytes, and the digests it commits to."""

    index = models.BigIntegerField(primary_key=True, verbose_name=_("index"))
    data = models.BinaryField(verbose_name=_("data"))
    kind = models.PositiveSmallIntegerField(verbose_name=_("kind"))
    sha256 = models.BinaryField(max_length=32, db_index=True, verbose_name=_("SHA-256"))
    sm3 = models.BinaryField(max_length=32, db_index=True, verbose_name=_("SM3"))
    # The record code a record or service-event leaf concerns (leaf.subject), so that all
    # entries about a record can be found; derived from `data`, which ledger_fsck rechecks.
    subject = models.CharField(max_length=32, null=True, db_index=True, verbose_name=_("subject"))
    # Lets a submitter find where its submission landed; not part of the leaf.
    submission = models.BigIntegerField(unique=True, null=True, verbose_name=_("submission"))
    integrated_at = models.DateTimeField(verbose_name=_("integrated"))

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["index"]

    def __str__(self) -> str:
        return gettext("entry %(index)s") % {"index": self.index}


class Tile(models.Model):
    """A full tile: 256 hashes at one level, the 255 hashes above them, and their root.

    The inner hashes are what a proof needs from a tile; storing them (computed once, when
    the tile is made) spares every proof that reads a tile cold from rehashing it.
    """

    level = models.PositiveSmallIntegerField(verbose_name=_("level"))
    index = models.BigIntegerField(verbose_name=_("index"))
    hashes = models.BinaryField(verbose_name=_("hashes"))
    # Null on tiles made before the column existed: their inner hashes are recomputed.
    inner = models.BinaryField(null=True, verbose_name=_("inner hashes"))
    root = models.BinaryField(max_length=32, verbose_name=_("root hash"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="tile_level_index")]
        ordering = ["level", "index"]
        verbose_name = _("tile")
        verbose_name_plural = _("tiles")

    def __str__(self) -> str:
        return gettext("tile %(level)s/%(index)s") % {"level": self.level, "index": self.index}


class Checkpoint(models.Model):
    """A signed tree head (C2SP checkpoint note) for one tree size."""

    tree_size = models.BigIntegerField(primary_key=True, verbose_name=_("tree size"))
    root_hash = models.BinaryField(max_length=32, verbose_name=_("root hash"))
    note = models.TextField(verbose_name=_("signed note"))
    created_at = models.DateTimeField(verbose_name=_("created"))

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return gettext("checkpoint %(size)s") % {"size": self.tree_size}


class PublishedCheckpoint(models.Model):
    """A checkpoint the log published: the signed note with the witnesses' cosignature
    lines. Readers (the read side, receipts, proofs, verification) see only these.

    `quorum_met` is false when it was published without its quorum (LEDGER_WITNESS_FAIL_OPEN,
    or no witness policy); it is a label for operators, never trusted: verification counts
    the cosignatures in `note` against its own policy.
    """

    tree_size = models.BigIntegerField(primary_key=True, verbose_name=_("tree size"))
    root_hash = models.BinaryField(max_length=32, verbose_name=_("root hash"))
    note = models.TextField(verbose_name=_("signed note"))
    quorum_met = models.BooleanField(verbose_name=_("quorum met"))
    published_at = models.DateTimeField(verbose_name=_("published"))

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"
        verbose_name = _("published checkpoint")
        verbose_name_plural = _("published checkpoints")

    def __str__(self) -> str:
        return gettext("published checkpoint %(size)s") % {"size": self.tree_size}


class WitnessState(models.Model):
    """What the publisher knows of one witness of LEDGER_WITNESS_POLICY: the size it last
    cosigned (the `old` of the next request) and how its last requests went."""

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    # Who runs it, as the alliance page shows it; filled in by an operator in the admin.
    organisation_zh = models.CharField(
        max_length=200, blank=True, verbose_name=_("organisation (Chinese)")
    )
    organisation_en = models.CharField(
        max_length=200, blank=True, verbose_name=_("organisation (English)")
    )
    vkey = models.TextField(verbose_name=_("verifier key"))
    url = models.TextField(blank=True, verbose_name=_("URL"))
    cosigned_size = models.BigIntegerField(default=0, verbose_name=_("cosigned size"))
    cosigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cosigned at"))
    ok = models.BooleanField(default=False, verbose_name=_("working"))
    failing_since = models.DateTimeField(null=True, blank=True, verbose_name=_("failing since"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("checked"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("witness")
        verbose_name_plural = _("witnesses")

    def __str__(self) -> str:
        return gettext("witness %(name)s") % {"name": self.name}


class Alarm(models.Model):
    """Something in the database disagrees with the ledger, or the ledger with itself.

    Raised by the sequencer (a stored right edge that does not reproduce its last signed
    root), a submitter (its entry is not the leaf it submitted), verification (a record's
    rows disagree with its ledger entries), downloads, ledger_fsck and the read side (a
    row the signed tree needs is missing). One open alarm per source and subject; /health
    and the admin show the open ones until an operator resolves them.
    """

    class Source(models.TextChoices):
        SEQUENCER = "sequencer", _("sequencer")
        SUBMITTER = "submitter", _("submitter")
        VERIFICATION = "verification", _("verification")
        DOWNLOAD = "download", _("download")
        FSCK = "fsck", _("ledger_fsck")
        READ_SIDE = "read_side", _("ledger read side")

    source = models.CharField(max_length=16, choices=Source.choices, verbose_name=_("source"))
    subject = models.CharField(
        max_length=100, blank=True, help_text=_("record code or entry"), verbose_name=_("subject")
    )
    first_bad_index = models.BigIntegerField(
        null=True, blank=True, verbose_name=_("first bad index")
    )
    message = models.TextField(verbose_name=_("message"))
    raised_at = models.DateTimeField(auto_now_add=True, verbose_name=_("raised"))
    last_seen_at = models.DateTimeField(auto_now=True, verbose_name=_("last seen"))
    count = models.PositiveIntegerField(default=1, verbose_name=_("count"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved"))

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")

    def __str__(self) -> str:
        return f"{self.source}: {self.subject or self.message[:60]}"


class FsckRun(models.Model):
    """The result of one ledger_fsck run, kept for /health and the admin."""

    started_at = models.DateTimeField(verbose_name=_("started"))
    seconds = models.FloatField(verbose_name=_("seconds"))
    exit_code = models.PositiveSmallIntegerField(
        help_text=_("0 clean, 1 discrepancies, 2 not run"), verbose_name=_("exit code")
    )
    discrepancies = models.PositiveIntegerField(default=0, verbose_name=_("discrepancies"))
    entries = models.BigIntegerField(default=0, verbose_name=_("entries"))
    summary = models.TextField(verbose_name=_("summary"))

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        verbose_name = _("ledger_fsck run")
        verbose_name_plural = _("ledger_fsck runs")

    def __str__(self) -> str:
        return self.summary


class CheckpointTimestamp(models.Model):
    """An RFC 3161 timestamp token over a published checkpoint's body (issue 17 §1).

    Verified when it is received and every time it is used: the row is evidence kept for
    readers, never trusted for itself. `ca` is the DER of the pinned CA certificate it
    chained to on receipt, served with the token so that a verifier holding only the CA's
    fingerprint (a `tsa-ca` line) can check it. Append-only like the log's other rows.
    """

    checkpoint = models.ForeignKey(
        PublishedCheckpoint, on_delete=models.PROTECT, related_name="timestamps"
    )
    tsa = models.CharField(max_length=300, help_text="the authority's name, from its certificate")
    url = models.TextField(help_text="where it was asked")
    token = models.BinaryField(help_text="DER TimeStampToken")
    gen_time = models.DateTimeField()
    ca = models.BinaryField(help_text="DER of the pinned CA certificate")
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "url"], name="timestamp_checkpoint_url")
        ]
        ordering = ["checkpoint", "gen_time"]

    def __str__(self) -> str:
        return f"timestamp of {self.checkpoint_id} by {self.tsa}"


class TimestampAuthority(models.Model):
    """What the timestamper knows of one TSA of LEDGER_TSA_URLS: the size it last
    timestamped, how its last requests went, and when to ask again (backoff)."""

    url = models.TextField(unique=True)
    name = models.CharField(max_length=300, blank=True, help_text="from its certificate")
    timestamped_size = models.BigIntegerField(default=0)
    timestamped_at = models.DateTimeField(null=True, blank=True, help_text="its genTime")
    ok = models.BooleanField(default=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="in a row; sets the backoff")
    last_error = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["url"]
        verbose_name_plural = "timestamp authorities"

    def __str__(self) -> str:
        return f"TSA {self.name or self.url}"


class ChainAnchor(models.Model):
    """A transaction on the EVM chain of LEDGER_CHAIN_RPC_URL whose data anchors a
    published checkpoint (anchoring/chain.py's byte form; issue 17 §2).

    `pending` until its block is LEDGER_CHAIN_CONFIRMATIONS deep, then `confirmed`: only
    confirmed anchors are served and used. `dropped` when the chain no longer holds it
    (a reorganisation, its nonce taken, a gap before its nonce): the newest checkpoint is
    anchored again. The block fields are what the node said when it was last read;
    verification reads the transaction from a node again and trusts none of them.
    """

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        CONFIRMED = "confirmed", "confirmed"
        DROPPED = "dropped", "dropped"

    checkpoint = models.ForeignKey(
        PublishedCheckpoint, on_delete=models.PROTECT, related_name="chain_anchors"
    )
    chain_id = models.BigIntegerField()
    transaction_hash = models.CharField(max_length=66, unique=True)
    sender = models.CharField(max_length=42)
    nonce = models.BigIntegerField()
    sent_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    block_number = models.BigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    block_time = models.DateTimeField(null=True, blank=True)
    confirmations = models.BigIntegerField(default=0, help_text="when last read")
    checked_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="why it was dropped")

    class Meta:
        ordering = ["checkpoint", "sent_at"]
        indexes = [models.Index(fields=["state", "checkpoint"], name="chain_anchor_state")]

    def __str__(self) -> str:
        return f"anchor of {self.checkpoint_id} in {self.transaction_hash}"


class ChainState(models.Model):
    """What the anchoring loop knows of the chain of LEDGER_CHAIN_RPC_URL: the newest size
    confirmed, how its last rounds went, and when to try again (backoff)."""

    url = models.TextField(unique=True)
    chain_id = models.BigIntegerField(default=0)
    anchored_size = models.BigIntegerField(default=0, help_text="newest confirmed")
    anchored_block = models.BigIntegerField(null=True, blank=True)
    anchored_at = models.DateTimeField(null=True, blank=True, help_text="its block's time")
    ok = models.BooleanField(default=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="in a row; sets the backoff")
    last_error = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return f"chain {self.chain_id} at {self.url}"
