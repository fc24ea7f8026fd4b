"""Django's page middleware, skipped on the JSON API under /api/v1/.

The API authenticates every request by its token (or needs none) and answers JSON in
both languages: sessions, the language, CSRF, users, messages and frame options do
nothing there, yet cost about a quarter of a millisecond per request, a tenth of what a
court's record costs the server (docs/benchmarks.md, "Court API on gevent"). They are
subclasses, so Django's admin checks still find them.
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, csrf, locale

API_PREFIX = "/api/v1/"


class _PagesOnly:
    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PagesOnly, sessions.SessionMiddleware):
    pass


class LocaleMiddleware(_PagesOnly, locale.LocaleMiddleware):
    pass


class CsrfViewMiddleware(_PagesOnly, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(_PagesOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PagesOnly, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(_PagesOnly, clickjacking.XFrameOptionsMiddleware):
    pass
