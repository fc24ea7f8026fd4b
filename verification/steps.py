"""The checks of a verification, each with its result explained in Chinese and English.

Plain Python (no Django): the same checks run in the Celery job and, later, in the offline
verifier. A check that cannot be completed is INCONCLUSIVE, never PASSED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from anchoring import leaf as leaf_format
from anchoring import merkle
from anchoring.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from anchoring.note import NoteError, Verifier
from anchoring.policy import Policy

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"

# What each check is about, in a few plain words: the heading a person reads before the
# full explanation (which says what was found).
TITLES = {
    "digest": ("文件的数字指纹", "The file's fingerprint"),
    "lookup": ("在账本中查找", "Looked up in the ledger"),
    "record": ("法院的登记记录", "The court's record"),
    "content": ("与登记的文件比对", "Compared with the recorded file"),
    "leaf": ("账本条目的内容", "What the ledger entry holds"),
    "checkpoint": ("账本的签名", "The ledger's signature"),
    "witnesses": ("联盟成员的见证", "The alliance members' witness"),
    "inclusion": ("条目确在账本中", "The entry is in the ledger"),
    "consistency": ("账本未被改写", "The ledger was not rewritten"),
    "timestamp": ("可信时间", "Trusted time"),
    "chain_anchor": ("区块链锚定", "Anchored on a blockchain"),
    "ledger_agreement": ("平台记录与账本一致", "The portal agrees with the ledger"),
    "ledger": ("连接账本", "Reaching the ledger"),
}
SERVICE_TITLES = {
    "issued": ("送达：签发", "Service: issued"),
    "sent": ("送达：发出", "Service: sent"),
    "opened": ("送达：查阅", "Service: opened"),
    "acknowledged": ("送达：签收", "Service: acknowledged"),
}


def title(name: str) -> tuple[str, str]:
    """A step's heading in Chinese and English; its name when it has none."""
    if name.startswith("service:"):
        return SERVICE_TITLES.get(name.removeprefix("service:"), (name, name))
    return TITLES.get(name, (name, name))


@dataclass
class Step:
    """One check: a stable name, its status, and what it means in both languages."""

    name: str
    status: str
    zh: str
    en: str
    detail: dict = field(default_factory=dict)


def digest_step(sha256: bytes | None, sm3: bytes | None, how: str) -> Step:
    """Record how the file's digests were obtained."""
    shown = {k: v.hex() for k, v in (("sha256", sha256), ("sm3", sm3)) if v}
    where = {
        "upload": (
            "文件上传后在服务器上逐块计算，文件未被保存。",
            "computed on the server as the upload arrived; the file was not kept.",
        ),
        "browser": (
            "在您的浏览器中计算，文件没有离开您的设备。",
            "computed in your browser; the file never left your device.",
        ),
        "given": ("由请求方提供。", "given by the requester."),
    }[how]
    return Step(
        "digest",
        PASSED,
        f"已取得文件的摘要：{where[0]}",
        f"File digests obtained: {where[1]}",
        shown,
    )


def leaf_step(
    data: bytes, sha256: bytes | None, sm3: bytes | None, expect: dict[int, bytes] | None = None
) -> tuple[Step, leaf_format.Leaf | None]:
    """Decode the ledger entry and check it commits to these digests (and record fields)."""
    try:
        parsed = leaf_format.decode(data)
    except leaf_format.LeafError as exc:
        return Step(
            "leaf", FAILED, "账本条目格式错误，无法核对。", f"The ledger entry is malformed: {exc}."
        ), None
    wrong = []
    if sha256 and parsed.sha256 != sha256:
        wrong.append("sha256")
    if sm3 and parsed.sm3 != sm3:
        wrong.append("sm3")
    fields = dict(parsed.fields)
    for tag, value in (expect or {}).items():
        if fields.get(tag) != value:
            wrong.append(f"field {tag}")
    detail = {
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "kind": parsed.kind.name.lower(),
        "time": parsed.time.isoformat(),
    }
    if wrong:
        return Step(
            "leaf",
            FAILED,
            "账本条目记载的内容与本文件或记录不符。",
            f"The ledger entry does not commit to this file or record ({', '.join(wrong)}).",
            detail,
        ), parsed
    return Step(
        "leaf",
        PASSED,
        "已重新计算账本条目：它记载的正是本文件的 SHA-256 与 SM3 摘要。",
        "Ledger entry recomputed: it records exactly this file's SHA-256 and SM3 digests.",
        detail,
    ), parsed


def checkpoint_step(note: str, verifier: Verifier) -> tuple[Step, Checkpoint | None]:
    """Verify the checkpoint's signature with the pinned log key."""
    try:
        cp = open_checkpoint(note, verifier, origin=verifier.name)
    except (NoteError, CheckpointError) as exc:
        return Step(
            "checkpoint",
            FAILED,
            "账本检查点的签名无法用固定的账本公钥验证：检查点可能被伪造。",
            f"The checkpoint's signature does not verify with the pinned log key: "
            f"it may be forged ({exc}).",
            {},
        ), None
    return Step(
        "checkpoint",
        PASSED,
        f"账本检查点（共 {cp.size} 条）的签名已用固定的账本公钥验证。",
        f"The checkpoint (tree size {cp.size}) is signed by the pinned log key.",
        {
            "origin": cp.origin,
            "tree_size": cp.size,
            "root_hash": cp.root_hash.hex(),
            "key_id": f"{verifier.key_id:08x}",
        },
    ), cp


def quorum_step(note: str, policy: Policy) -> Step:
    """Which alliance members cosigned the checkpoint, and whether the quorum holds: only
    then does no single party vouch for the ledger alone (Policy.quorum_check, the same
    check as judicial-verify's)."""
    check = policy.quorum_check(note)
    rule_zh, rule_en = policy.describe_quorum()
    detail = {"quorum": check.quorum, "cosigned": list(check.cosigned)}
    if check.quorum is None:
        return Step(
            "witnesses",
            PASSED,
            "本平台的信任策略不要求联盟成员联署：该检查点仅由法院账本的密钥签名。",
            "This portal's trust policy requires no alliance cosignature: the checkpoint "
            "is signed by the court's log key alone.",
            detail,
        )
    names = "、".join(check.cosigned)
    if check.met:
        return Step(
            "witnesses",
            PASSED,
            f"联盟成员 {names} 已各自核对并联署该检查点，确认账本只增未改、没有向不同的人"
            f"展示不同的内容。联署要求已满足（{rule_zh}）",
            f"Alliance members {', '.join(check.cosigned)} each checked and cosigned this "
            "checkpoint, confirming the ledger only grew and shows everyone the same "
            f"history. The quorum is met ({rule_en})",
            detail,
        )
    who_zh = f"只有 {names} 联署" if check.cosigned else "没有任何联盟成员联署"
    who_en = (
        f"only {', '.join(check.cosigned)} cosigned it"
        if check.cosigned
        else "no alliance member cosigned it"
    )
    return Step(
        "witnesses",
        INCONCLUSIVE,
        f"该检查点未获得足够的联盟成员联署（{who_zh}；{rule_zh}），"
        "无法排除账本被单方改写的可能，因此不能认定为已核验。请稍后再试。",
        f"This checkpoint lacks the alliance's cosignatures ({who_en}; {rule_en}), so a "
        "rewrite by a single party cannot be ruled out and nothing is verified. "
        "Try again later.",
        detail,
    )


def inclusion_step(
    data: bytes, index: int, cp: Checkpoint, proof: list[bytes], name: str = "inclusion"
) -> Step:
    """Verify the entry's RFC 9162 inclusion proof against the signed checkpoint's root."""
    try:
        merkle.verify_inclusion(merkle.leaf_hash(data), index, cp.size, proof, cp.root_hash)
    except (merkle.ProofError, ValueError) as exc:
        return Step(
            name,
            FAILED,
            "包含证明未通过：账本返回的证明与已签名的检查点不一致。",
            f"The inclusion proof failed: the ledger's proof does not match the signed "
            f"checkpoint ({exc}).",
            {"index": index},
        )
    return Step(
        name,
        PASSED,
        f"包含证明已验证：第 {index} 条记录包含在已签名的账本中。",
        f"Inclusion proof verified: entry {index} is in the signed ledger.",
        {"index": index, "tree_size": cp.size, "proof": [h.hex() for h in proof]},
    )


def consistency_step(old: Checkpoint | None, new: Checkpoint, proof: list[bytes]) -> Step:
    """Verify the log only grew since the last checkpoint this portal trusted."""
    if old is None:
        return Step(
            "consistency",
            PASSED,
            "这是本平台首次见到的账本检查点，已记录以便今后核对一致性。",
            "This is the first checkpoint this portal has seen; it is kept to check "
            "that the ledger only grows from now on.",
            {"to": new.size},
        )
    try:
        merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    except (merkle.ProofError, ValueError) as exc:
        return Step(
            "consistency",
            FAILED,
            "一致性证明未通过：账本的历史可能被改写。",
            f"The consistency proof failed: the ledger's history may have been rewritten ({exc}).",
            {"from": old.size, "to": new.size},
        )
    return Step(
        "consistency",
        PASSED,
        f"一致性证明已验证：账本从 {old.size} 条增长到 {new.size} 条，历史记录未被改写。",
        f"Consistency verified: the ledger grew from {old.size} to {new.size} entries "
        "without rewriting its history.",
        {"from": old.size, "to": new.size},
    )


def unavailable_step(name: str, reason: str) -> Step:
    """A check that could not be made because the ledger did not answer."""
    return Step(
        name,
        INCONCLUSIVE,
        "账本服务暂时无法访问，此项未能核验。请稍后重试，这并不表示文件无效。",
        f"The ledger could not be reached, so this was not checked. Try again later; "
        f"this does not mean the file is invalid ({reason}).",
    )
