"""The list of a batch request, checked the same way by every batch endpoint."""

from __future__ import annotations

from plumbing.error_codes import ErrorText
from plumbing.errors import ApiError


def batch_items(
    data: object, name: str, limit: int, *, missing: ErrorText, too_many: ErrorText
) -> list:
    """The non-empty list `data[name]` of at most `limit` items.

    `missing` when the body is not an object or holds no non-empty list under `name`,
    `too_many` (with `limit` in its message) when the list is longer than `limit`; both
    name the list as the field at fault. Items are left to the caller to check.
    """
    items = data.get(name) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(missing, field=name)
    if len(items) > limit:
        raise ApiError(too_many, field=name, limit=limit)
    return items
