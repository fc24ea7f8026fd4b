"""Court credentials for the API: `Authorization: Token <token>`, hashed, revocable, logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from documents.models import Court, CourtToken, token_digest

LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class CourtSystem:
    """The caller behind a court token: what `request.user` is on the court API."""

    court: Court
    token: CourtToken
    is_authenticated: bool = True


class CourtTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a court's system by its token; a revoked token is refused (401)."""

    keyword = "Token"

    def authenticate(self, request) -> tuple[CourtSystem, CourtToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = (
            CourtToken.objects.select_related("court")
            .filter(digest=token_digest(header[1]))
            .first()
        )
        if token is None or not token.active:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        now = timezone.now()
        # At most once a minute: every request of a court would otherwise queue on this row.
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            CourtToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return CourtSystem(token.court, token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
