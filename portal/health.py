"""What the health endpoint reports: database, broker, ledger and its integrity, each checked
for real."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from plumbing import tasks


def database() -> dict:
    """Whether a query runs on the configured database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}


def broker() -> dict:
    """Whether the Celery broker answers; in-process tasks need no broker."""
    if tasks.in_process():
        return {"ok": True, "mode": "in-process"}
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "broker"}
    except Exception as exc:
        return {"ok": False, "mode": "broker", "error": type(exc).__name__}


def ledger() -> dict:
    """The ledger's size, the age of its newest checkpoint and its pool of submissions."""
    from anchoring import keys, store
    from anchoring.models import Submission

    try:
        cp = store.latest_checkpoint()
        signed = store.latest_signed()
        pending = Submission.objects.count()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    report = {
        "ok": cp is not None,
        "origin": settings.LEDGER_ORIGIN,
        "tree_size": cp.tree_size if cp else None,
        "signed_tree_size": signed.tree_size if signed else None,
        "checkpoint_age_seconds": (
            round((timezone.now() - cp.published_at).total_seconds(), 1) if cp else None
        ),
        "pending": pending,
        "sequencer": settings.LEDGER_SEQUENCER,
        "signing_key": keys.has_signing_key(),
    }
    if cp is None:
        report["error"] = "no checkpoint yet"
    return report


def witnesses() -> dict:
    """The log's witnesses (LEDGER_WITNESS_POLICY): each one's state, and whether
    publication goes on. Unhealthy when the newest signed checkpoint waits for a quorum the
    witnesses that answer cannot meet; degraded while some witness fails but the quorum
    holds without it."""
    from anchoring import keys, store
    from anchoring.models import WitnessState

    try:
        policy = keys.witness_policy()
    except Exception as exc:  # ImproperlyConfigured: the policy file cannot be read
        return {"ok": False, "error": str(exc)}
    if policy is None or not policy.witness_list:
        return {"ok": True, "configured": False}
    try:
        states = {s.name: s for s in WitnessState.objects.filter(name__in=policy.witness_list)}
        signed, published = store.latest_signed(), store.latest_checkpoint()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    members = []
    working = set()
    for name, witness in policy.witness_list.items():
        state = states.get(name)
        ok = state is not None and state.ok
        if ok:
            working.add(name)
        members.append(
            {
                "name": name,
                "url": witness.url,
                "ok": ok,
                "cosigned_size": state.cosigned_size if state else None,
                "cosigned_at": _iso(state.cosigned_at if state else None),
                "failing_since": _iso(state.failing_since if state else None),
                "error": (state.last_error if state else "") or None,
            }
        )
    waiting = signed is not None and (published is None or published.tree_size < signed.tree_size)
    waited = (timezone.now() - signed.created_at).total_seconds() if signed and waiting else 0.0
    stalled = waiting and waited > settings.LEDGER_WITNESS_TIMEOUT
    quorum_words = policy.describe_quorum()[1]
    report = {
        "ok": not stalled,
        "configured": True,
        # False: the newest published checkpoint went out without its quorum (fail-open).
        "published_quorum_met": published.quorum_met if published else None,
        "quorum": policy.quorum,
        "quorum_words": quorum_words,
        "degraded": len(working) < len(members),
        "unpublished_seconds": round(waited, 1),
        "members": members,
    }
    if stalled:
        failing = ", ".join(
            f"{m['name']} (since {m['failing_since'] or 'never cosigned'}: {m['error']})"
            for m in members
            if not m["ok"]
        )
        report["error"] = (
            f"publication has stopped for {waited:.1f} s: the witness quorum is not met "
            f"({quorum_words} Failing: {failing or 'none'})"
        )
    return report


def timestamps() -> dict:
    """The TSAs of LEDGER_TSA_URLS: each one's state and the newest size it timestamped.
    Never unhealthy (trusted time never holds up the ledger); degraded while a TSA fails
    or has not answered yet."""
    from anchoring.models import TimestampAuthority

    urls = settings.LEDGER_TSA_URLS
    if not urls:
        return {"ok": True, "configured": False}
    try:
        states = {s.url: s for s in TimestampAuthority.objects.filter(url__in=urls)}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    authorities = []
    for url in urls:
        state = states.get(url)
        authorities.append(
            {
                "url": url,
                "name": (state.name if state else "") or None,
                "ok": bool(state and state.ok),
                "timestamped_size": state.timestamped_size if state else None,
                "gen_time": _iso(state.timestamped_at if state else None),
                "failing_since": _iso(state.failing_since if state else None),
                "retry_at": _iso(state.retry_at if state else None),
                "error": (state.last_error if state else "") or None,
            }
        )
    return {
        "ok": True,
        "configured": True,
        "degraded": not all(a["ok"] for a in authorities),
        "authorities": authorities,
    }


def chain() -> dict:
    """The EVM chain of LEDGER_CHAIN_RPC_URL: the newest size anchored and confirmed, and
    whether the node answers. Never unhealthy (anchors never hold up the ledger); degraded
    while the node fails or has not answered yet."""
    from anchoring.models import ChainAnchor, ChainState

    url = settings.LEDGER_CHAIN_RPC_URL
    if not url:
        return {"ok": True, "configured": False}
    try:
        state = ChainState.objects.filter(url=url).first()
        pending = ChainAnchor.objects.filter(state=ChainAnchor.State.PENDING).count()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "configured": True,
        "development": settings.DEMO_CHAIN,
        "chain_id": settings.LEDGER_CHAIN_ID,
        "degraded": not (state and state.ok),
        "anchored_size": state.anchored_size if state else None,
        "anchored_block": state.anchored_block if state else None,
        "anchored_at": _iso(state.anchored_at if state else None),
        "pending": pending,
        "failing_since": _iso(state.failing_since if state else None),
        "retry_at": _iso(state.retry_at if state else None),
        "error": (state.last_error if state else "") or None,
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def integrity() -> dict:
    """The last ledger_fsck run and the open alarms.

    Unhealthy when the ledger is known to be corrupted: an open sequencer alarm about the
    ledger itself (it signs nothing until an operator repairs the log; a malformed pool row
    it dropped is counted, not corruption) or a last ledger_fsck run that found
    discrepancies. Other open alarms (a submitter's, a verification's, a download's) are
    counted but do not by themselves make the portal unhealthy: each concerns one record,
    which verification already refuses to call verified, and the next ledger_fsck run
    confirms it or not.
    """
    from django.db.models import Count

    from anchoring.models import Alarm, FsckRun
    from anchoring.sequencer import CORRUPTION_SUBJECT

    try:
        last = FsckRun.objects.order_by("-started_at").first()
        by_source = dict(
            Alarm.objects.filter(resolved_at__isnull=True)
            .values_list("source")
            .annotate(n=Count("id"))
            .order_by()
        )
        corruption = (
            Alarm.objects.filter(
                resolved_at__isnull=True,
                source=Alarm.Source.SEQUENCER,
                subject=CORRUPTION_SUBJECT,
            )
            .order_by("raised_at")
            .first()
        )
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    corrupted = corruption is not None
    fsck_failed = last is not None and last.exit_code == 1
    report = {
        "ok": not corrupted and not fsck_failed,
        "open_alarms": sum(by_source.values()),
        "open_alarms_by_source": by_source,
        "last_fsck": None,
    }
    if last is not None:
        report["last_fsck"] = {
            "started_at": last.started_at.isoformat(),
            "age_seconds": round((timezone.now() - last.started_at).total_seconds(), 1),
            "exit_code": last.exit_code,
            "clean": last.exit_code == 0,
            "discrepancies": last.discrepancies,
            "summary": last.summary,
        }
    if corruption is not None:
        report["error"] = "the ledger is corrupted: the sequencer signs nothing more"
        report["corrupted"] = {
            "first_bad_index": corruption.first_bad_index,
            "since": corruption.raised_at.isoformat(),
            "message": corruption.message,
        }
    elif fsck_failed and last is not None:
        report["error"] = f"the last ledger_fsck found {last.discrepancies} discrepancies"
    return report


def report() -> tuple[bool, dict]:
    """All checks; healthy only when every part is."""
    parts = {"database": database(), "broker": broker()}
    parts["ledger"] = ledger() if parts["database"]["ok"] else {"ok": False}
    parts["integrity"] = integrity() if parts["database"]["ok"] else {"ok": False}
    parts["witnesses"] = witnesses() if parts["database"]["ok"] else {"ok": False}
    parts["timestamps"] = timestamps() if parts["database"]["ok"] else {"ok": False}
    parts["chain"] = chain() if parts["database"]["ok"] else {"ok": False}
    healthy = all(part["ok"] for part in parts.values())
    status = "ok" if healthy else "unhealthy"
    if healthy and any(part.get("degraded") for part in parts.values()):
        status = "degraded"
    return healthy, {"status": status, **parts}
