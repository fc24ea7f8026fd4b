"""The witness's plain-text answers, Chinese then English (the English may add the reason)."""

from __future__ import annotations

from plumbing.error_codes import PageMessage
from witness import protocol, service

REFUSALS: dict[type[protocol.WitnessError], PageMessage] = {
    protocol.MalformedRequest: PageMessage(
        "add-checkpoint 请求格式错误。", "Malformed add-checkpoint request: {reason}"
    ),
    protocol.UnknownLog: PageMessage("本见证者不跟随这个日志。", "Unknown log: {reason}"),
    protocol.NotSignedByLog: PageMessage(
        "检查点没有该日志公钥的有效签名。", "No valid signature by the log's key: {reason}"
    ),
    protocol.Inconsistent: PageMessage(
        "检查点与上次联署的检查点不一致，未予联署。",
        "The checkpoint is not consistent with the one last cosigned: {reason}",
    ),
    protocol.SplitView: PageMessage(
        "同一大小的树已以另一个根哈希联署：这可能是日志分叉的证据，未予联署。",
        "A tree of this size was cosigned with another root (a possible split view): {reason}",
    ),
    service.OverQuota: PageMessage(
        "该日志今日的提交次数已超过上限，请 {retry_after} 秒后再试。",
        "The log is over its requests a day; retry in {retry_after} seconds.",
    ),
}

BODY_TOO_LARGE = PageMessage(
    "请求超过 {limit} 字节的上限，未予处理。",
    "The request is over the {limit}-byte limit; it was not processed.",
)
THROTTLED = PageMessage(
    "请求过于频繁，请 {seconds} 秒后再试。",
    "Too many requests; retry in {seconds} seconds.",
)
NEVER_COSIGNED = PageMessage(
    "本见证者从未联署过这个日志的检查点。",
    "This witness never cosigned a checkpoint of this log.",
)
