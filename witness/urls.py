"""The witness under /witness/: its submission and monitoring prefix are both /witness."""

from django.urls import path, re_path

from witness import views

urlpatterns = [
    path("", views.index, name="witness"),
    path("logs", views.logs, name="witness-logs"),
    path("add-checkpoint", views.add_checkpoint, name="witness-add-checkpoint"),
    re_path(
        r"^(?P<origin_hash>[0-9a-f]{64})/checkpoint$", views.checkpoint, name="witness-checkpoint"
    ),
]
