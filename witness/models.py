"""What a witness follows: one row per log, with the checkpoint it last cosigned."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import models

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
            f"不是有效的 Ed25519 vkey。 Not a valid Ed25519 vkey: {exc}"
        ) from None


class Log(models.Model):
    """A log the witness follows, and its state: the latest checkpoint it cosigned.

    `size` and `root_hash` only move forward, and only through the conditional UPDATE of
    witness/service.py; a log never cosigned has size 0 and the empty tree's root.
    """

    origin = models.TextField("origin 检查点来源行")
    origin_hash = models.CharField(max_length=64, unique=True, editable=False)
    vkey = models.TextField("vkey 日志公钥", validators=[valid_vkey])
    qpd = models.PositiveIntegerField(
        "qpd 每日请求上限", help_text="add-checkpoint requests a day 每日可提交的次数"
    )
    contact = models.TextField("contact 联系方式", blank=True)
    active = models.BooleanField(
        "active 跟随中", default=True, help_text="unknown origin (404) when off 关闭后视为未知日志"
    )
    from_list = models.BooleanField(
        "from the log list 来自日志列表文件", default=False, editable=False
    )
    size = models.BigIntegerField("cosigned size 已联署大小", default=0, editable=False)
    root_hash = models.BinaryField(max_length=32, default=EMPTY_ROOT, editable=False)
    note = models.TextField("cosigned checkpoint 已联署检查点", blank=True, editable=False)
    cosigned_at = models.DateTimeField("cosigned at 联署时间", null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["origin"]
        verbose_name = "witnessed log 见证的日志"
        verbose_name_plural = "witnessed logs 见证的日志"

    def __str__(self) -> str:
        return self.origin

    def save(self, *args, **kwargs) -> None:
        self.origin_hash = origin_hash(self.origin)
        super().save(*args, **kwargs)
