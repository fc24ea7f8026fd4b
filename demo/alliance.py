"""The embedded default's alliance: DEMO_WITNESSES witnesses of this project running in
the portal's own process, each on its own key and SQLite database, so that `make run`
shows cosigned checkpoints, the quorum step on every result and a live alliance page.

They are labelled demo wherever they appear; production configures real members in
LEDGER_WITNESS_POLICY and runs none of these (DEMO_WITNESSES=0). The publisher reaches them
without HTTP (anchoring.publisher.local_witnesses), because `seed_demo` records files
before the portal's server listens; their routes under /demo/witness/<n>/ answer the same
requests over HTTP, for anyone to submit to or read from.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError

from anchoring import keys as ledger_keys
from anchoring import publisher
from anchoring.models import WitnessState
from anchoring.note import parse_signer_key
from witness import keys as witness_keys
from witness import service
from witness.identity import Identity
from witness.log_list import MAX_QPD
from witness.models import Log, origin_hash
from witness.protocol import SizeConflict, WitnessError


@dataclass(frozen=True)
class Member:
    """A demo alliance member: its name in the policy, its key name, who it stands for."""

    policy_name: str
    key_name: str
    zh: str
    en: str


MEMBERS = (
    Member(
        "demo-procuratorate",
        "demo-procuratorate.example/witness",
        "演示成员：某市人民检察院（非真实机构）",
        "Demo member: a municipal procuratorate (not a real institution)",
    ),
    Member(
        "demo-notary",
        "demo-notary.example/witness",
        "演示成员：某公证处（非真实机构）",
        "Demo member: a notary office (not a real institution)",
    ),
    Member(
        "demo-time-service",
        "demo-time-service.example/witness",
        "演示成员：某授时中心（非真实机构）",
        "Demo member: a time service centre (not a real institution)",
    ),
)


def members() -> tuple[Member, ...]:
    """The demo members this deployment runs (DEMO_WITNESSES of them)."""
    return MEMBERS[: settings.DEMO_WITNESSES]


def identity(n: int) -> Identity:
    """Demo member n (from 1): its key (made on first use) and its own database."""
    member = MEMBERS[n - 1]
    path = Path(settings.DATA_DIR) / "keys" / f"demo-witness-{n}.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            witness_keys.write_new_key(path, member.key_name)
    return Identity(member.key_name, parse_signer_key(path.read_text().strip()), database(n))


def database(n: int) -> str:
    """The database alias of demo member n."""
    return f"demo_witness_{n}"


def url(n: int) -> str:
    """Demo member n's submission prefix."""
    return f"{settings.PUBLIC_BASE_URL}/demo/witness/{n}"


def policy_text() -> str:
    """The log's witness policy: every demo member must cosign."""
    lines = ["# The embedded default's DEMO alliance (demo/alliance.py): not real members."]
    for n, member in enumerate(members(), 1):
        lines.append(f"witness {member.policy_name} {identity(n).vkey()} {url(n)}")
    names = " ".join(m.policy_name for m in members())
    lines += [f"group demo-alliance all {names}", "quorum demo-alliance"]
    return "\n".join(lines) + "\n"


def ensure_policy() -> None:
    """Write LEDGER_WITNESS_POLICY for the demo members, unless it already says so."""
    path = Path(settings.LEDGER_WITNESS_POLICY)
    text = policy_text()
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(path.name + ".new")
    aside.write_text(text)
    aside.replace(path)


_ready: set[int] = set()
_ready_lock = threading.Lock()


def ensure_database(n: int) -> None:
    """Demo member n's tables exist and it follows this deployment's log."""
    with _ready_lock:
        if n in _ready:
            return
        call_command("migrate", "witness", database=database(n), verbosity=0)
        vkey = ledger_keys.vkey()
        rows = Log.objects.using(database(n))
        # A new log key is a new log (the data directory was replaced): forget the old one.
        rows.filter(origin_hash=origin_hash(settings.LEDGER_ORIGIN)).exclude(vkey=vkey).delete()
        rows.update_or_create(
            origin_hash=origin_hash(settings.LEDGER_ORIGIN),
            defaults={
                "origin": settings.LEDGER_ORIGIN,
                "vkey": vkey,
                "qpd": MAX_QPD,
                "contact": "demo",
                "active": True,
                "from_list": False,
            },
        )
        member = MEMBERS[n - 1]
        WitnessState.objects.update_or_create(
            name=member.policy_name,
            defaults={"organisation_zh": member.zh, "organisation_en": member.en},
            create_defaults={
                "organisation_zh": member.zh,
                "organisation_en": member.en,
                "vkey": identity(n).vkey(),
                "url": url(n),
            },
        )
        _ready.add(n)


def ready_identity(n: int) -> Identity:
    """Demo member n, its database ready."""
    ensure_database(n)
    return identity(n)


def answer(n: int, body: bytes) -> tuple[int, str]:
    """Demo member n's answer to an add-checkpoint body: (HTTP status, body)."""
    try:
        return 200, service.add_checkpoint(ready_identity(n), body).lines
    except SizeConflict as exc:
        return 409, exc.body()
    except WitnessError as exc:
        return exc.status, f"{exc.reason}\n"
    except DatabaseError as exc:
        return 503, f"demo witness database: {exc}\n"


def register() -> None:
    """Let this process's publisher reach the demo members without HTTP."""
    for n, _ in enumerate(members(), 1):
        publisher.local_witnesses[url(n)] = functools.partial(answer, n)


class DemoWitnessRouter:
    """A demo member's database holds the witness app's tables only."""

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        if db.startswith("demo_witness_"):
            return app_label == "witness"
        return None
