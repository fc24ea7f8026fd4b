from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from anchoring.urls import api_patterns as ledger_api
from anchoring.urls import ledger_patterns
from documents.urls import api_patterns as court_api
from documents.urls import page_patterns as service_pages
from plumbing.page_limits import rate_limited
from portal import api_docs, display, language, metrics, views
from verification.urls import api_patterns as verification_api
from verification.urls import page_patterns as verification_pages

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.healthz, name="health"),
    path("alliance", views.alliance_page, name="alliance"),
    path("courts", views.courts_page, name="courts"),
    path("display", display.choose, name="display"),
    path("language", language.choose, name="language"),
    path("metrics", metrics.metrics, name="metrics"),
    path("ledger/", include(ledger_patterns)),
    path("witness/", include("witness.urls")),
    path("api/v1/", include(ledger_api)),
    path("api/v1/", include(court_api)),
    path("api/v1/", include(verification_api)),
    path("", include(service_pages)),
    path("", include(verification_pages)),
    path("api/schema/", views.ApiSchemaView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        rate_limited("pages")(api_docs.redoc),
        name="api-docs",
    ),
    # A sign-in checks a password (a deliberately slow hash): LOGIN_RATE per client, the
    # admin's sign-in too, which the admin's own routes below would otherwise answer.
    path("accounts/login/", rate_limited("logins")(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", rate_limited("pages")(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/login/", rate_limited("logins")(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
]

if settings.DEMO_WITNESSES:  # the embedded default's demo alliance (demo/alliance.py)
    urlpatterns.append(path("demo/", include("demo.urls")))

# What Django itself refuses or fails: the API's error body under /api/, a page elsewhere.
handler400 = "portal.error_answers.bad_request"
handler403 = "portal.error_answers.permission_denied"
handler404 = "portal.error_answers.page_not_found"
handler500 = "portal.error_answers.server_error"
