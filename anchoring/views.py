"""The ledger's static read side, exactly as C2SP tlog-tiles: checkpoint, tiles, bundles."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

from anchoring import store
from anchoring.tiles import TileError, encode_bundle, parse_tile_path, tile_width
from plumbing import error_codes
from plumbing.error_codes import PageMessage
from plumbing.page_limits import rate_limited

# A tile or bundle of a given width never changes, so any cache may keep it for good.
_IMMUTABLE = "public, max-age=31536000, immutable"


def _text(message: PageMessage, status: int, **params: object) -> HttpResponse:
    """A plain-text error of the read side: the Chinese line, then the English one."""
    body = f"{message.zh.format(**params)}\n{message.en.format(**params)}\n"
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _throttled(request: HttpRequest, retry_after: int) -> HttpResponse:
    """429 in the read side's plain text, for a client over LEDGER_READ_RATE."""
    response = _text(error_codes.READ_SIDE_THROTTLED, 429, seconds=retry_after)
    response["Retry-After"] = str(retry_after)
    return response


@require_safe
@rate_limited("ledger", refuse=_throttled)
def checkpoint(request: HttpRequest) -> HttpResponse:
    """The newest signed checkpoint."""
    latest = store.latest_checkpoint()
    if latest is None:
        return _text(error_codes.TILES_NOT_READY, 503)
    response = HttpResponse(latest.note, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={settings.LEDGER_CHECKPOINT_MAX_AGE}"
    return response


@require_safe
@rate_limited("ledger", refuse=_throttled)
@gzip_page
def tile(request: HttpRequest, path: str) -> HttpResponse:
    """A Merkle tile (tile/<L>/<N>[.p/<W>]) or entry bundle (tile/entries/<N>[.p/<W>])."""
    try:
        is_bundle, ref = parse_tile_path("tile/" + path)
    except TileError as exc:
        return _text(error_codes.TILE_PATH_INVALID, 400, reason=exc)
    available = tile_width(ref.level, ref.index, store.tree_size())
    # A full tile exists once it is full; a partial one once the tile is at least that wide.
    if ref.width > available:
        return _text(error_codes.TILE_NOT_YET, 404)
    try:
        body = encode_bundle(store.entry_bundle(ref)) if is_bundle else store.read_tiles([ref])[ref]
    except store.LedgerDamaged:  # an alarm is raised; the answer must not be cached
        return _text(error_codes.TILE_LEDGER_DAMAGED, 503)
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Cache-Control"] = _IMMUTABLE
    return response
