"""One language at a time, Chinese first: the reader's choice kept in Django's language
cookie (LocaleMiddleware reads it before Accept-Language), and the page's `lang`.

Certificates stay bilingual, and the JSON API answers in both languages whatever is chosen.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST

from plumbing.page_limits import rate_limited
from plumbing.redirects import redirect_back

# BCP 47 tags for `<html lang>`: Django's language codes are lower case.
HTML_LANG = {"zh-hans": "zh-Hans", "en": "en"}


def html_lang(request: HttpRequest) -> dict:
    """Context processor: the active language's BCP 47 tag and whether it is Chinese."""
    code = translation.get_language() or settings.LANGUAGE_CODE
    return {"html_lang": HTML_LANG.get(code, code), "chinese": code.startswith("zh")}


@require_POST
@rate_limited("pages")
def choose(request: HttpRequest) -> HttpResponse:
    """Keep the chosen language (`language`, one of LANGUAGES), then back to the page."""
    response = redirect_back(request, request.POST.get("back"), "/")
    code = request.POST.get("language", "")
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response
