"""A genuine proof bundle edited by hand, value by value: `judicial-verify bundle` fails at a
named step, or reports the value as not checked and never prints it as proven."""

import contextlib
import copy
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.court_ledger import check, sha
from verification import bundle as bundles
from verification import certificate, offline

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def ok_lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("ok  ")]

    def not_checked(self) -> dict[str, str]:
        """Each place listed as not checked, with the label it is listed under."""
        places, label = {}, None
        for line in self.out.splitlines():
            if line.startswith("    not checked"):
                label = line.strip().rstrip(":")
            elif label and line.startswith("      "):
                places[line.strip().split(" = ", 1)[0]] = label
            else:
                label = None
        return places

    def listed(self, place: str) -> str | None:
        """The label `place` (or a part of the bundle holding it) is listed under."""
        for name, label in self.not_checked().items():
            if place == name or place.startswith((name + ".", name + "[")):
                return label
        return None

    def listed_in(self, place: str) -> bool:
        """Whether `place`, a part holding it, or any part it holds is listed as not checked."""
        return self.listed(place) is not None or any(
            name.startswith((place + ".", place + "[")) for name in self.not_checked()
        )


class Verifier:
    """Runs judicial-verify on bundles, in this process (as `main` does for the console)."""

    def __init__(self, folder: Path, policy: Path) -> None:
        self.folder, self.policy = folder, policy

    def __call__(self, bundle: dict, *extra: str) -> Run:
        path = self.folder / "edited.json"
        path.write_text(json.dumps(bundle, ensure_ascii=False))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = offline.main(["bundle", str(path), "--policy", str(self.policy), *extra])
        return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run(tmp_path) -> Verifier:
    out = io.StringIO()
    call_command("trust_policy", stdout=out)
    policy = tmp_path / "policy.txt"
    policy.write_text(out.getvalue())
    return Verifier(tmp_path, policy)


_GENUINE: dict[str, dict] = {}


@pytest.fixture
def issued(request, transactional_db) -> dict[str, dict]:
    """Bundles of the served judgment verified by its file and by its code, of the
    evidence by its file, and of a file no court recorded. The portal makes them once for
    the module (the ledger, four verifications and certificates take a second); each test
    gets its own copy to edit."""
    if not _GENUINE:
        ledger = request.getfixturevalue("ledger")
        made = {
            "file": check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf"),
            "code": check(code=ledger.judgment.code, source="code"),
            "evidence": check(sha256=sha(ledger.evidence_bytes)),
            "not_found": check(sha256=sha(b"no court recorded this")),
        }
        _GENUINE.update({name: json.loads(certificate.issue(v).bundle) for name, v in made.items()})
    return copy.deepcopy(_GENUINE)


def _failed(run: Run, step: str) -> None:
    assert run.code == 1, run.out + run.err
    assert f"FAILED at {step}" in run.out, run.out


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key in sorted(node):
            yield from _leaves(node[key], (*path, key))
    elif isinstance(node, list):
        for number, item in enumerate(node):
            yield from _leaves(item, (*path, number))
    else:
        yield path, node


def _containers(node, path=()):
    if isinstance(node, (dict, list)):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            yield from _containers(item, (*path, key))


def _edited(value):
    """The value changed as a forger would: one character, one more, the other truth."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if value == "":
        return "X"
    at = len(value) // 2
    char = value[at]
    if char in "0123456789":
        new = str((int(char) + 1) % 10)
    elif char.isascii() and char.isalpha():
        new = "a" if char == "z" else "A" if char == "Z" else chr(ord(char) + 1)
    else:
        new = chr(ord(char) + 1)
    return value[:at] + new + value[at + 1 :]


def _place(path) -> str:
    return bundles.path_name(path)


def _at(bundle: dict, path):
    node = bundle
    for key in path:
        node = node[key]
    return node


def _with(bundle: dict, path, value) -> dict:
    edited = copy.deepcopy(bundle)
    _at(edited, path[:-1])[path[-1]] = value
    return edited


def _never_proven(run: Run, value, genuine: Run) -> list[str]:
    """What is wrong with an edit that still exits 0: its place must be listed as not
    checked, and what is printed as proven must be exactly what the genuine bundle proves."""
    wrong = []
    if run.ok_lines != genuine.ok_lines:
        wrong.append("printed proven lines the genuine bundle does not")
    text = str(value)
    if len(text) >= 4 and any(text in line for line in run.ok_lines):
        wrong.append(f"printed {text!r} as proven")
    return wrong


@pytest.mark.parametrize("which", ["file", "code"])
def test_every_value_edited_fails_or_is_reported_not_checked(issued, run, which):
    genuine_bundle = issued[which]
    genuine = run(genuine_bundle)
    assert genuine.code == 0 and genuine.out.endswith("VERIFIED\n"), genuine.out + genuine.err
    problems, cases = [], 0
    for path, value in _leaves(genuine_bundle):
        if value is None:
            continue
        cases += 1
        new = _edited(value)
        result = run(_with(genuine_bundle, path, new))
        place = _place(path)
        if path == ("format",):
            if result.code != 2:
                problems.append(f"{place}: exit {result.code}, not 2 (unusable)")
        elif result.code == 1:
            if "FAILED at " not in result.out:
                problems.append(f"{place}: exit 1 without naming the step")
        elif result.code == 0:
            if result.listed(place) is None:
                problems.append(f"{place}: edited to {new!r}, exit 0, not listed as not checked")
            problems += [f"{place}: {w}" for w in _never_proven(result, new, genuine)]
        else:
            problems.append(f"{place}: exit {result.code}: {result.err.strip()}")
    assert cases > 60
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("which", ["file", "code"])
def test_every_list_item_dropped_or_list_reordered_never_adds_a_proof(issued, run, which):
    genuine_bundle = issued[which]
    genuine = run(genuine_bundle)
    problems = []
    for path, node in _containers(genuine_bundle):
        if not isinstance(node, list) or not node:
            continue
        variants = [(f"item {n} dropped", node[:n] + node[n + 1 :]) for n in range(len(node))]
        if len(node) > 1 and node != node[::-1]:
            variants.append(("reversed", node[::-1]))
        for how, edited in variants:
            result = run(_with(genuine_bundle, path, edited))
            place = f"{_place(path)} {how}"
            if result.code == 1:
                continue
            if result.code != 0:
                problems.append(f"{place}: exit {result.code}")
            elif not set(result.ok_lines) <= set(genuine.ok_lines):
                problems.append(f"{place}: printed a proof the genuine bundle does not")
            elif path == ("service_events",):
                if f"the timeline proves the {len(edited)} service event(s) listed" not in (
                    result.out
                ):
                    problems.append(f"{place}: no word that the timeline may be incomplete")
            elif not result.listed_in(_place(path)):
                problems.append(f"{place}: exit 0, not listed as not checked")
    assert not problems, "\n".join(problems)


def test_every_part_removed_never_adds_a_proof(issued, run):
    genuine_bundle = issued["file"]
    genuine = run(genuine_bundle)
    problems = []
    for path, node in _containers(genuine_bundle):
        if not isinstance(node, dict):
            continue
        for key in node:
            edited = copy.deepcopy(genuine_bundle)
            del _at(edited, path)[key]
            result = run(edited)
            proven = {line for line in result.ok_lines if not line.startswith("ok  proven:")}
            if result.code == 0 and not proven <= set(genuine.ok_lines):
                problems.append(f"{_place((*path, key))} removed: printed a new proof")
    assert not problems, "\n".join(problems)


@pytest.fixture
def evidenced(ledger, configured, chain_configured) -> tuple[dict, str]:
    """A bundle with trusted time (two real TSAs) and a chain anchor (a real anvil), and
    the node's URL."""
    from anchoring import chain_anchors, timestamps

    timestamps.timestamp_newest()
    assert chain_anchors.anchor_newest() == 1
    chain_configured.settle()
    chain_configured.mine(3)
    chain_anchors.anchor_newest()
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    bundle = json.loads(certificate.issue(v).bundle)
    assert bundle["timestamps"] and bundle["chain_anchors"]
    return bundle, chain_configured.url


def test_every_time_and_anchor_value_edited_fails_or_is_reported_not_checked(evidenced, run):
    """Read with --rpc: an edit fails at `timestamp` or `chain anchor`, or is listed as not
    checked and loses a proof at most, never adds one."""
    genuine_bundle, url = evidenced
    node = ("--rpc", url, "--confirmations", "3")
    genuine = run(genuine_bundle, *node)
    assert genuine.code == 0, genuine.out + genuine.err
    assert any(line.startswith("ok  trusted time") for line in genuine.ok_lines)
    assert any(line.startswith("ok  chain anchor") for line in genuine.ok_lines)
    problems, cases = [], 0
    for path, value in _leaves(genuine_bundle):
        if path[0] not in ("timestamps", "chain_anchors") or value is None:
            continue
        cases += 1
        new = _edited(value)
        result = run(_with(genuine_bundle, path, new), *node)
        place = _place(path)
        if result.code == 1:
            step = "timestamp" if path[0] == "timestamps" else "chain anchor"
            if f"FAILED at {step}" not in result.out:
                problems.append(f"{place}: exit 1, not at {step}: {result.out[-200:]}")
        elif result.code == 0:
            if result.listed(place) is None:
                problems.append(f"{place}: edited to {new!r}, exit 0, not listed as not checked")
            # A token made unusable may move "no later than" to another verified token's
            # time: allowed, as long as each token's own line is one the genuine printed.
            new_lines = set(result.ok_lines) - set(genuine.ok_lines)
            if any(not line.startswith("ok  trusted time: ") for line in new_lines):
                problems.append(f"{place}: printed a proof the genuine bundle does not")
            for line in new_lines:
                if line.split("no later than ", 1)[-1].split(" (")[0] not in " ".join(
                    genuine.ok_lines
                ):
                    problems.append(f"{place}: a trusted time no token of the genuine gives")
        else:
            problems.append(f"{place}: exit {result.code}: {result.err.strip()}")
    assert cases > 15
    assert not problems, "\n".join(problems)


# A bundle edited by hand never prints VERIFIED for what it changed.


def test_the_title_edited_fails_where_the_metadata_is_opened(issued, run):
    bundle = issued["file"]
    assert "opening" in bundle["record"]
    edited = _with(bundle, ("record", "title"), "民事裁定书")
    _failed(run(edited), "record title")


def test_the_title_edited_where_it_is_not_opened_is_reported_not_checked(issued, run):
    bundle = issued["code"]
    assert "opening" not in bundle["record"]
    result = run(_with(bundle, ("record", "title"), "民事裁定书"))
    assert result.code == 0
    assert "salted digest this bundle does not open" in result.listed("record.title")
    assert not any("民事裁定书" in line for line in result.ok_lines)
    assert not any(line.startswith("ok  title") for line in result.ok_lines)


@pytest.mark.parametrize("which", ["file", "code"])
def test_the_masked_case_number_and_parties_are_display_only(issued, run, which):
    edited = _with(issued[which], ("record", "case_number"), "（2025）京0105民初***99号")
    edited["record"]["parties"] = ["王*", "赵*"]
    result = run(edited)
    assert result.code == 0
    assert result.listed("record.case_number") and result.listed("record.parties[0]")
    assert not any("99号" in line or "王" in line for line in result.ok_lines)


def test_the_opened_metadata_is_recomputed_and_printed_as_proven(issued, run):
    result = run(issued["file"])
    assert result.code == 0
    assert (
        "ok  record metadata: the opened details recompute the ledger entry's salted digest"
        in result.ok_lines
    )
    assert "ok  title: 民事判决书" in result.ok_lines
    assert "ok  case number: （2026）京0105民初12345号" in result.ok_lines
    assert "ok  parties: 张三, 李四" in result.ok_lines


@pytest.mark.parametrize(
    "path, value",
    [
        (("record", "opening", "salt"), "00" * 16),
        (("record", "opening", "metadata", "title"), "民事裁定书"),
        (("record", "opening", "metadata", "case_number"), "（2026）京0105民初99999号"),
        (("record", "opening", "metadata", "parties"), ["张三", "王五"]),
    ],
)
def test_an_edited_opening_fails(issued, run, path, value):
    edited = _with(issued["file"], path, value)
    if path[-1] == "title":
        edited["record"]["title"] = value  # the face agrees: only the digest can tell
    _failed(run(edited), "record metadata")


def test_only_a_verification_with_the_file_carries_an_opening(issued):
    assert issued["file"]["record"]["opening"]["salt"]
    assert issued["evidence"]["record"]["opening"]["metadata"]["filename"] == "chat.txt"
    assert "opening" not in issued["code"]["record"]
    assert issued["not_found"]["record"] is None


def test_the_category_edited_fails(issued, run):
    _failed(run(_with(issued["file"], ("record", "category"), "evidence")), "record category")


def test_the_court_and_recorded_time_edited_fail(issued, run):
    bundle = issued["code"]
    _failed(run(_with(bundle, ("record", "court", "code"), "SH0101")), "record court")
    _failed(
        run(_with(bundle, ("record", "recorded_at"), "2025-01-01T00:00:00.000Z")),
        "record recorded_at",
    )


def test_the_court_name_edited_is_the_portals_statement(issued, run):
    result = run(_with(issued["file"], ("record", "court", "name_zh"), "上海市第一中级人民法院"))
    assert result.code == 0
    assert result.listed("record.court.name_zh") == "not checked: the portal's statement"
    assert not any("上海" in line for line in result.ok_lines)


def test_an_event_time_edited_fails(issued, run):
    bundle = issued["file"]
    _failed(
        run(_with(bundle, ("service_events", 1, "occurred_at"), "2026-01-01T08:00:00.000Z")),
        "service event 2 occurred_at",
    )
    _failed(
        run(_with(bundle, ("service_events", 1, "inputs", "time"), "2026-01-01T08:00:00Z")),
        "service event 2 inputs",
    )


def test_an_event_renamed_or_given_another_channel_fails(issued, run):
    bundle = issued["file"]
    _failed(run(_with(bundle, ("service_events", 2, "event"), "acknowledged")), "service event 3")
    _failed(run(_with(bundle, ("service_events", 1, "channel"), "post")), "service event 2")


def test_the_addressee_is_not_checked(issued, run):
    result = run(_with(issued["file"], ("service_events", 1, "addressee"), "王*"))
    assert result.code == 0
    assert "addressee names" in result.listed("service_events[1].addressee")


def test_a_dropped_acknowledgement_is_not_proven_and_the_gap_is_said(issued, run):
    bundle = copy.deepcopy(issued["file"])
    assert bundle["service_events"][-1]["event"] == "acknowledged"
    del bundle["service_events"][-1]
    result = run(bundle)
    assert result.code == 0  # a dropped event cannot be seen from the bundle alone...
    assert not any("acknowledged" in line for line in result.ok_lines)
    assert (  # ...and the verifier says so
        "the timeline proves the 3 service event(s) listed, not that no other exists" in result.out
    )


def test_an_event_listed_twice_or_out_of_order_fails(issued, run):
    bundle = copy.deepcopy(issued["file"])
    bundle["service_events"].append(bundle["service_events"][0])
    _failed(run(bundle), "service event 5: listed out of ledger order")


def test_the_steps_edited_are_the_portals_claim(issued, run):
    bundle = copy.deepcopy(issued["not_found"])
    bundle["verification"]["steps"][-1]["status"] = "passed"
    bundle["verification"]["steps"][-1]["en"] = "Ledger entry 3 records this file's digest."
    result = run(bundle)
    _failed(result, "outcome")
    assert "the portal's claim" in result.listed("verification.steps[1]")
    edited = _with(issued["file"], ("verification", "steps", 3, "en"), "All proven by the court.")
    result = run(edited)
    assert result.code == 0
    assert "the portal's claim" in result.listed("verification.steps[3]")


@pytest.mark.parametrize("outcome", ["mismatch", "inconclusive", "conflict", "verified!"])
def test_an_outcome_other_than_verified_is_never_verified(issued, run, outcome):
    result = run(_with(issued["file"], ("verification", "outcome"), outcome))
    _failed(result, "outcome")
    assert "VERIFIED" not in result.out
    if outcome == "conflict":
        assert "disagree with the ledger" in result.out


def test_verified_claimed_without_proof_fails(issued, run):
    result = run(_with(issued["not_found"], ("verification", "outcome"), "verified"))
    _failed(result, "outcome: the portal claims 'verified', but the bundle's proofs do not")
    # A record code verification whose record is taken away proves no more than an entry.
    bundle = copy.deepcopy(issued["code"])
    bundle["record"] = None
    _failed(run(bundle), "outcome: the portal claims 'verified'")


def test_file_digests_added_to_a_code_verification_must_be_the_leafs(issued, run):
    bundle = copy.deepcopy(issued["code"])
    bundle["file"] = {"name": "x.pdf", "size": 1, "sha256": sha(b"another file"), "sm3": ""}
    _failed(run(bundle), "file sha256")


def test_a_version_1_bundle_is_read_with_the_same_rules(issued, run):
    bundle = copy.deepcopy(issued["file"])
    bundle["format"] = "judicial-portal/proof-bundle/v1"
    del bundle["record"]["opening"]
    for event in bundle["service_events"]:
        del event["channel"], event["addressee"]
    bundle["record"]["timeline"] = [{"event": "acknowledged", "occurred_at": "2020-01-01"}]
    result = run(bundle)
    assert result.code == 0, result.out + result.err
    assert result.listed("record.title")
    assert result.listed("record.timeline[0]") == "not checked: the portal's statement"
    bundle["format"] = "judicial-portal/proof-bundle/v9"
    assert run(bundle).code == 2


def test_the_console_command_prints_the_labels(issued, tmp_path):
    """As a user runs it: a separate process, the bundle edited in three places."""
    bundle = copy.deepcopy(issued["code"])
    bundle["record"]["title"] = "伪造的标题"
    bundle["verification"]["steps"][0]["en"] = "Everything checked."
    del bundle["service_events"][-1]
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    policy = tmp_path / "policy.txt"
    out = io.StringIO()
    call_command("trust_policy", stdout=out)
    policy.write_text(out.getvalue())
    done = subprocess.run(
        [sys.executable, "-m", "verification.offline", "bundle", path, "--policy", policy],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    proven = [line for line in lines if line.startswith("ok  ")]
    assert not any("伪造" in line or "Everything" in line for line in proven)
    assert any("伪造的标题" in line for line in lines)  # shown, under "not checked"
    assert "not that no other exists" in done.stdout
    assert lines[-1] == "VERIFIED"
