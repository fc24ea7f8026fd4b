from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from anchoring.urls import api_patterns as ledger_api
from anchoring.urls import ledger_patterns
from documents.urls import api_patterns as court_api
from documents.urls import page_patterns as service_pages
from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.healthz, name="health"),
    path("ledger/", include(ledger_patterns)),
    path("api/v1/", include(ledger_api)),
    path("api/v1/", include(court_api)),
    path("", include(service_pages)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
]
