"""The court API's input serializers share one set of fields between instances."""

import threading

from documents.serializers import EventInput, RecordInput


def _record(n: int) -> dict:
    return {
        "sha256": f"{n:02x}" * 32,
        "sm3": f"{n + 1:02x}" * 32,
        "category": "evidence",
        "title": f"  证据 {n}  ",
        "parties": [f"当事人 {n}"],
    }


def test_fields_are_built_once_and_each_validation_keeps_its_own_data():
    first, second = RecordInput(data=_record(1)), RecordInput(data={"title": "t"})
    assert first.fields is second.fields
    assert first.is_valid(), first.errors
    assert not second.is_valid()
    assert set(second.errors) == {"category"}
    assert first.validated_data["title"] == "证据 1"  # trimmed, and not the other's
    assert first.validated_data["sha256"] == bytes([1]) * 32
    assert RecordInput.__dict__["_shared_fields"] is not EventInput(data={}).fields


def test_threads_validating_at_once_get_their_own_results():
    results, errors = {}, []

    def validate(n: int) -> None:
        for _ in range(200):
            serializer = RecordInput(data=_record(n))
            if not serializer.is_valid():
                errors.append(serializer.errors)
            results[n] = serializer.validated_data

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {n: r["parties"] for n, r in results.items()} == {n: [f"当事人 {n}"] for n in range(8)}
