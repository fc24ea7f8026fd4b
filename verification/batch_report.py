"""A batch of verifications as one report: its rows, their outcomes in plain words, and the
checkpoints they were checked against, written as a CSV and as a bilingual A4 PDF.

Plain Python with no Django import: verification/batch.py gathers the facts (from the
verification records, never from anything the reader sent), this module writes them.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table

from verification.certificate_pdf import (
    CELL,
    EN,
    GREY,
    H1,
    HEX,
    OUTCOME_COLOURS,
    SMALL,
    WIDTH,
    Fonts,
    Para,
    Text,
    build,
    grey,
    heading,
    paragraph_style,
    table_style,
)

# What a row shows, from the verification's status and outcome: four plain words, and
# "checking" while it runs. Only a verification the ledger proved is "verified".
VERIFIED, NOT_FOUND, DISAGREES, COULD_NOT_CHECK, CHECKING = (
    "verified",
    "not_found",
    "disagrees",
    "could_not_check",
    "checking",
)
WORDS: dict[str, dict[str, str]] = {
    VERIFIED: {"zh": "核验通过", "en": "Verified"},
    NOT_FOUND: {"zh": "未找到", "en": "Not found"},
    DISAGREES: {"zh": "不一致", "en": "Disagrees"},
    COULD_NOT_CHECK: {"zh": "无法核验", "en": "Could not check"},
    CHECKING: {"zh": "正在核验", "en": "Checking"},
}
_COLOURS = {
    VERIFIED: "verified",
    NOT_FOUND: "not_found",
    DISAGREES: "conflict",
    COULD_NOT_CHECK: "inconclusive",
    CHECKING: "inconclusive",
}


def shown(status: str, outcome: str) -> str:
    """The row's outcome in four words, from the verification's status and its outcome as
    shown now (Verification.outcome_now: never verified from changed rows)."""
    if status != "done":
        return CHECKING
    if outcome == "conflict":
        return DISAGREES
    return {
        "verified": VERIFIED,
        "not_found": NOT_FOUND,
        "mismatch": DISAGREES,
    }.get(outcome, COULD_NOT_CHECK)


@dataclass(frozen=True)
class Row:
    """One file of the batch, as its verification found it."""

    position: int  # from 1, in the order the files were given
    filename: str
    size: int | None
    outcome: str  # one of WORDS
    record_code: str | None  # as printed, when the file is a court's record
    court_code: str | None  # the court the ledger names
    court_zh: str | None
    court_en: str | None
    ledger_index: int | None
    tree_size: int | None  # of the checkpoint it was checked against
    sha256: str
    sm3: str
    checked_at: str  # ISO 8601, empty while checking
    result_url: str
    certificate_number: str | None  # once done
    certificate_url: str | None

    @property
    def words(self) -> dict[str, str]:
        return WORDS[self.outcome]


@dataclass(frozen=True)
class CheckedAgainst:
    """A signed checkpoint some rows were checked against, as their checks verified it."""

    origin: str
    tree_size: int
    root_hash: str
    key_id: str


@dataclass(frozen=True)
class Report:
    """A whole batch: where it is, when this report was made, its rows and checkpoints."""

    batch: str
    url: str
    made_at: str
    rows: list[Row]
    checkpoints: list[CheckedAgainst]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


# --- CSV ----------------------------------------------------------------------------------

# The columns, in order (docs/api.md, "Pages"): a contract for spreadsheets and scripts.
COLUMNS = [
    "position",
    "file",
    "size",
    "outcome",
    "outcome_zh",
    "outcome_en",
    "record_code",
    "court_code",
    "court_zh",
    "court_en",
    "ledger_index",
    "tree_size",
    "sha256",
    "sm3",
    "checked_at",
    "result_url",
    "certificate_number",
    "certificate_url",
]


def _cell(value: object) -> str:
    """A value as a spreadsheet takes it: empty for none, and text that a spreadsheet
    would run as a formula (a file may be named "=HYPERLINK(...)") kept as text."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_bytes(report: Report) -> bytes:
    """The rows as CSV: UTF-8 with a byte order mark (Excel then reads Chinese right),
    a header row of COLUMNS, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in report.rows:
        values = [
            r.position,
            r.filename,
            r.size,
            r.outcome,
            r.words["zh"],
            r.words["en"],
            r.record_code,
            r.court_code,
            r.court_zh,
            r.court_en,
            r.ledger_index,
            r.tree_size,
            r.sha256,
            r.sm3,
            r.checked_at,
            r.result_url,
            r.certificate_number,
            r.certificate_url,
        ]
        writer.writerow([_cell(v) for v in values])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


# --- PDF ----------------------------------------------------------------------------------


NUMBER, FILE, OUTCOME, RECORD = 9 * mm, 47 * mm, 27 * mm, 46 * mm
CERTIFICATE = WIDTH - NUMBER - FILE - OUTCOME - RECORD
HEAD = paragraph_style("batch-head", 8, GREY, cjk=False)


def _all_text(report: Report) -> str:
    return "".join(
        (r.filename or "") + (r.court_zh or "") + (r.court_en or "") for r in report.rows
    )


def _facts(report: Report, t: Text) -> Table:
    counts = " · ".join(
        f"{WORDS[o]['zh']} {grey(WORDS[o]['en'])} {report.count(o)}"
        for o in (VERIFIED, NOT_FOUND, DISAGREES, COULD_NOT_CHECK, CHECKING)
        if report.count(o)
    )
    rows = [
        ("批量编号", "Batch", t(report.batch), HEX),
        ("报告时间", "Made at", t(report.made_at), CELL),
        ("文件数", "Files", str(len(report.rows)), CELL),
        ("结果", "Outcomes", counts or "—", CELL),
        ("在线查看", "Online", t(report.url), HEX),
    ]
    return Table(
        [[Para(f"{zh} {grey(en)}", CELL), Para(value, style)] for zh, en, value, style in rows],
        colWidths=[34 * mm, WIDTH - 34 * mm],
        style=table_style(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.6 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.6 * mm),
            ]
        ),
        spaceBefore=3 * mm,
    )


def _checkpoints(report: Report, t: Text) -> list[Flowable]:
    story: list[Flowable] = [heading("核验所依据的账本检查点", "Checkpoints checked against")]
    if not report.checkpoints:
        story.append(
            Para(
                "没有账本公布的已签名检查点可列出。 "
                + grey("No signed checkpoint published by the ledger can be listed."),
                CELL,
            )
        )
        return story
    story.append(
        Para(
            "各文件核验时所依据的检查点；每一个均由账本公布，其签名已用固定的账本公钥"
            "再次验证。 "
            + grey(
                "The checkpoints the files were checked against, each published by the "
                "ledger and its signature verified again with the pinned log key."
            ),
            SMALL,
        )
    )
    for cp in report.checkpoints:
        story.append(
            Para(
                f"{t(cp.origin)} · 规模 {grey('size')} {cp.tree_size} · "
                f"密钥 {grey('key')} {t(cp.key_id)}<br/>"
                f"根哈希 {grey('root hash')} {t(cp.root_hash)}",
                HEX,
            )
        )
    return story


def _table(report: Report, t: Text) -> Table:
    header = [
        Para("#", HEAD),
        Para(f"文件 {grey('File')}", HEAD),
        Para(f"结果 {grey('Outcome')}", HEAD),
        Para(f"核验码 · 法院 {grey('Record · court')}", HEAD),
        Para(f"证书编号 {grey('Certificate')}", HEAD),
    ]
    rows: list[list] = [header]
    style: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 1 * mm),
        ("RIGHTPADDING", (0, 0), (-1, -1), 1 * mm),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#d9dde3")),
    ]
    for i, r in enumerate(report.rows, 1):
        ink, background = OUTCOME_COLOURS[_COLOURS[r.outcome]]
        size = f"{r.size} 字节 bytes" if r.size is not None else ""
        record = (
            [
                Para(t(r.record_code), CELL),
                Para(t(r.court_zh or r.court_code or ""), CELL),
                Para(t(r.court_en or ""), EN),
            ]
            if r.record_code
            else [Para(t(r.court_en or r.court_zh or "—"), CELL)]
        )
        rows.append(
            [
                Para(str(r.position), CELL),
                [Para(t(r.filename or "—"), CELL), Para(size, EN)],
                [
                    Para(r.words["zh"], paragraph_style(f"o-{i}", colour=colors.HexColor(ink))),
                    Para(
                        r.words["en"],
                        paragraph_style(f"oe-{i}", colour=colors.HexColor(ink), cjk=False),
                    ),
                ],
                record,
                Para(t(r.certificate_number or "—"), CELL),
            ]
        )
        style.append(("BACKGROUND", (2, i), (2, i), colors.HexColor(background)))
    return Table(
        rows,
        colWidths=[NUMBER, FILE, OUTCOME, RECORD, CERTIFICATE],
        style=table_style(style),
        repeatRows=1,
        spaceBefore=2 * mm,
    )


def pdf_bytes(report: Report, fonts: Fonts) -> bytes:
    """The report as a PDF (A4, Chinese first, each line followed by its English)."""
    t = Text(_all_text(report), fonts)
    story: list[Flowable] = [
        Para(f"批量核验报告 {grey('Batch verification report')}", H1),
        _facts(report, t),
        *_checkpoints(report, t),
        heading("文件", "Files"),
        _table(report, t),
        Para(
            "本报告汇总各文件的核验结果，本身不是证明：每个文件的签名核验证书（见证书编号）"
            "载有其证明包，可用 judicial-verify 离线复核。 "
            + grey(
                "This report sums up each file's result and is no proof by itself: each "
                "file's signed certificate (see its number) carries its proof bundle, which "
                "judicial-verify re-checks offline."
            ),
            paragraph_style("batch-note", 8, GREY, spaceBefore=4 * mm),
        ),
    ]
    return build(
        story,
        title=f"批量核验报告 Batch verification report {report.batch}",
        footer=f"批量 Batch {report.batch} · 第 {{page}} / {{pages}} 页 page",
    )
