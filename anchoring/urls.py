from django.urls import path

from anchoring import api, views

# The static read side, under the log's prefix (the checkpoint origin names it).
ledger_patterns = [
    path("checkpoint", views.checkpoint, name="ledger-checkpoint"),
    path("tile/<path:path>", views.tile, name="ledger-tile"),
]

api_patterns = [
    path("ledger/entries", api.EntriesView.as_view(), name="api-ledger-entries"),
    path("ledger/proof/inclusion", api.InclusionProofView.as_view(), name="api-ledger-inclusion"),
    path(
        "ledger/proof/consistency",
        api.ConsistencyProofView.as_view(),
        name="api-ledger-consistency",
    ),
    path("ledger/checkpoint", api.CheckpointView.as_view(), name="api-ledger-checkpoint"),
    path("ledger/timestamps", api.TimestampsView.as_view(), name="api-ledger-timestamps"),
    path("ledger/anchors", api.ChainAnchorsView.as_view(), name="api-ledger-anchors"),
]
