from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from anchoring.urls import api_patterns as ledger_api
from anchoring.urls import ledger_patterns
from documents.urls import api_patterns as court_api
from documents.urls import page_patterns as service_pages
from portal import metrics, views
from verification.urls import api_patterns as verification_api
from verification.urls import page_patterns as verification_pages

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.healthz, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("ledger/", include(ledger_patterns)),
    path("api/v1/", include(ledger_api)),
    path("api/v1/", include(court_api)),
    path("api/v1/", include(verification_api)),
    path("", include(service_pages)),
    path("", include(verification_pages)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
