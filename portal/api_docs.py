"""The API documentation page: Redoc, from the portal's own static files, under the site's
Content-Security-Policy but for what Redoc needs as it draws the page: the styles it writes
into it (styled-components), its icons as data: images, and the worker of its search,
made from a blob (tests/browser/test_csp.py)."""

from collections.abc import Collection

from django.conf import settings
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularRedocView

REDOC_CSP: dict[str, Collection[str]] = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "worker-src": [CSP.SELF, "blob:"],
}

redoc = csp_override(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api-schema"))
