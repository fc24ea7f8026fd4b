from django.urls import path

from verification import api, batch_pages, judge_pages, views

api_patterns = [
    path("verifications", api.VerificationsView.as_view(), name="api-verifications"),
    path("verifications/batch", api.BatchView.as_view(), name="api-verifications-batch"),
    path(
        "verifications/batch/<str:batch>",
        api.BatchResultView.as_view(),
        name="api-verification-batch",
    ),
    path(
        "verifications/<str:verification_id>",
        api.VerificationView.as_view(),
        name="api-verification",
    ),
]

page_patterns = [
    path("verify", views.upload, name="verify-upload"),
    path("verify/photo", views.photo, name="verify-photo"),
    path("lookup", views.lookup, name="lookup"),
    path("batch", batch_pages.batch_form, name="batch"),
    path("batch/check", batch_pages.batch_check, name="batch-check"),
    path("batch/<str:batch_id>", batch_pages.batch_result, name="batch-result"),
    path("batch/<str:batch_id>/report.csv", batch_pages.batch_csv, name="batch-csv"),
    path("batch/<str:batch_id>/report.pdf", batch_pages.batch_pdf, name="batch-pdf"),
    path("judges", judge_pages.judges, name="judges"),
    path("v/<str:code>", views.record_page, name="record-page"),
    path("v/<str:code>/file", views.record_file, name="record-file"),
    path(
        "v/<str:code>/pages/<int:number>.png",
        views.record_page_image,
        name="record-page-image",
    ),
    path("verifications/<str:verification_id>", views.verification_page, name="verification-page"),
    path("c/<str:number>", views.certificate_page, name="certificate-page"),
    path("c/<str:number>/certificate.pdf", views.certificate_pdf, name="certificate-pdf"),
    path("c/<str:number>/bundle.json", views.certificate_bundle, name="certificate-bundle"),
    path("c/<str:number>/reverify", views.certificate_reverify, name="certificate-reverify"),
]
