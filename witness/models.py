"""What a witness follows: one row per log, with the checkpoint it last cosigned."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from anchoring.merkle import EMPTY_ROOT
from anchoring.note import InvalidKeyError, parse_verifier_key


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin: the log's name in the witness's URLs."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def valid_vkey(value: str) -> None:
    try:
        parse_verifier_key(value)
    except InvalidKeyError as exc:
        raise ValidationError(
            _("Not a valid Ed25519 vkey: %(error)s"), params={"error": exc}
        ) from None


class Log(models.Model):
    """A log the witness follows, and its state: the latest checkpoint it cosigned.

    `size` and `root_hash` only move forward, and only through the conditional UPDATE of
    witness/service.py; a log never cosigned has size 0 and the empty tree's root.
    """

    origin = models.TextField(_("origin"))
    origin_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("origin hash")
    )
    vkey = models.TextField(_("vkey"), validators=[valid_vkey])
    qpd = models.PositiveIntegerField(_("qpd"), help_text=_("add-checkpoint requests a day"))
    contact = models.TextField(_("contact"), blank=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("unknown origin (404) when off")
    )
    from_list = models.BooleanField(_("from the log list"), default=False, editable=False)
    size = models.BigIntegerField(_("cosigned size"), default=0, editable=False)
    root_hash = models.BinaryField(max_length=32, default=EMPTY_ROOT, editable=False)
    note = models.TextField(_("cosigned checkpoint"), blank=True, editable=False)
    cosigned_at = models.DateTimeField(_("cosigned at"), null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["origin"]
        verbose_name = _("witnessed log")
        verbose_name_plural = _("witnessed logs")

    def __str__(self) -> str:
        return self.origin

    def save(self, *args, **kwargs) -> None:
        self.origin_hash = origin_hash(self.origin)
        super().save(*args, **kwargs)
