from django.urls import path

from documents import api, views

api_patterns = [
    path("records", api.RecordsView.as_view(), name="api-records"),
    path("records/batch", api.RecordBatchView.as_view(), name="api-records-batch"),
    path("records/<str:code>", api.RecordView.as_view(), name="api-record"),
    path("records/<str:code>/events", api.EventsView.as_view(), name="api-record-events"),
    path(
        "records/<str:code>/qr.png", api.QRView.as_view(), {"fmt": "png"}, name="api-record-qr-png"
    ),
    path(
        "records/<str:code>/qr.svg", api.QRView.as_view(), {"fmt": "svg"}, name="api-record-qr-svg"
    ),
    path("records/<str:code>/file", api.FileView.as_view(), name="api-record-file"),
]

page_patterns = [
    path("s/<str:token>", views.service_link, name="service-link"),
    path("s/<str:token>/document", views.service_document, name="service-document"),
    path("s/<str:token>/acknowledge", views.service_acknowledge, name="service-acknowledge"),
]
