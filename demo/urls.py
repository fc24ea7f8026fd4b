"""The embedded default's demo alliance members over HTTP: /demo/witness/<n>/ serves
member n with the witness app's own views, on its own key and database."""

from django.urls import path, re_path

from demo import alliance
from witness import views


def _member(n: int) -> list:
    getter = {"identity": lambda: alliance.ready_identity(n)}
    return [
        path(f"witness/{n}/", views.index, getter, name=f"demo-witness-{n}"),
        path(f"witness/{n}/logs", views.logs, getter),
        path(f"witness/{n}/add-checkpoint", views.add_checkpoint, getter),
        re_path(
            rf"^witness/{n}/(?P<origin_hash>[0-9a-f]{{64}})/checkpoint$", views.checkpoint, getter
        ),
    ]


urlpatterns = [route for n in range(1, len(alliance.members()) + 1) for route in _member(n)]
