"""The certificate's PDF: an A4 page layout drawn with ReportLab from plain facts.

ReportLab draws the pages directly (no HTML layout), with one TrueType font, the
certificate's common-character CJK subset, embedded as a subset of the glyphs a page
uses; characters outside it are drawn from a fallback font made for them. Chinese first,
each line followed by its English.

Plain Python with no Django import: certificate.render() gathers the facts, this module
lays them out.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as FontFile
from fontTools.ttLib import newTable
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT = "CertificateCJK"
INK, GREY, RULE = colors.HexColor("#1c2430"), colors.HexColor("#5b6675"), "#d9dde3"
RED = colors.HexColor("#aa1111")
OUTCOME_COLOURS = {  # text, background
    "verified": ("#1d6b35", "#e6f4ea"),
    "not_found": ("#aa1111", "#fdecea"),
    "mismatch": ("#aa1111", "#fdecea"),
    "conflict": ("#aa1111", "#fdecea"),
    "inconclusive": ("#7a5200", "#fff6e0"),
}
STEP_COLOURS = {"passed": "#1d6b35", "failed": "#aa1111", "inconclusive": "#7a5200"}
MARGIN, BOTTOM = 16 * mm, 18 * mm
WIDTH = A4[0] - 2 * MARGIN
LABEL, STATUS, QR_SIZE = 34 * mm, 24 * mm, 30 * mm


@dataclass(frozen=True)
class Step:
    """One verification step as the certificate lists it."""

    status: str  # passed, failed, inconclusive
    label: str  # the status in words, Chinese and English
    zh: str
    en: str


@dataclass(frozen=True)
class Event:
    """One service event of the record's timeline."""

    occurred_at: str
    label: str
    channel_label: str | None
    addressee: str | None
    proven: bool
    ledger_index: int | None


@dataclass(frozen=True)
class RecordFace:
    """The record's public face as the ledger proves it; None: a value not checked."""

    code: str
    court_zh: str
    court_en: str
    category_label: str
    title: str | None
    case_number: str | None
    parties: list[str] | None
    recorded_at: str
    timeline: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Facts:
    """Everything a certificate shows and carries, as text ready to print."""

    number: str
    url: str
    qr: list[list[bool]]  # the QR code's modules, quiet zone included
    development: bool
    outcome: str
    by_code: bool  # a record code was given
    verification_id: str
    finished_at: str
    steps: list[Step]
    filename: str
    size: int | None
    sha256: str
    sm3: str
    record: RecordFace | None
    entry_index: int | None
    origin: str
    tree_size: int | None
    root_hash: str | None
    log_key_id: str | None
    consistency: bool
    service_events: bool
    ca_fingerprints: list[str]
    bundle: bytes
    bundle_name: str
    # "Recorded no later than": the trusted time proven, its authority, whether that is a
    # DEVELOPMENT authority; None when the time is still the court's own clock.
    recorded_no_later: tuple[str, str, bool] | None = None
    # The chain anchor read back from a node: None when the step did not pass.
    anchored: Anchored | None = None


@dataclass(frozen=True)
class Anchored:
    """Where the checkpoint covering the record is anchored, as the node read it back."""

    chain_id: int
    block_number: int
    when: str
    transaction_hash: str
    development: bool


@dataclass(frozen=True)
class Fonts:
    """The certificate's TrueType font, and how to get one for characters outside it."""

    common: Path
    fallback: Callable[[str], Path] | None = None  # characters -> a TrueType font with them


# --- Fonts --------------------------------------------------------------------------------

_registered: dict[Path, str] = {}  # fallback fonts, each registered once per process
_common: list[Path] = []
_lock = threading.Lock()


def _register(path: Path, common: bool = False) -> str:
    """The ReportLab name of a TrueType font file, registered once per process; the common
    font is always FONT, the name the styles use."""
    with _lock:
        if common:
            if _common != [path]:
                pdfmetrics.registerFont(TTFont(FONT, str(path)))
                _common[:] = [path]
            return FONT
        if path not in _registered:
            _registered[path] = f"{FONT}-{len(_registered) + 1}"
            pdfmetrics.registerFont(TTFont(_registered[path], str(path)))
        return _registered[path]


def _covered(name: str) -> set[int]:
    return set(pdfmetrics.getFont(name).face.charToGlyph)


def truetype(source: Path, name: str | None = None) -> Path:
    """A TrueType (glyf) copy of an OpenType CFF font, next to it, made once; `name`, its
    new PostScript name (ReportLab mixes up two fonts of one document that share one).

    ReportLab embeds TrueType outlines only; Noto Sans CJK is CFF. Curves are converted
    to quadratic ones within 1 font unit (invisible at print sizes).
    """
    target = source.with_suffix(".ttf")
    if target.exists():
        return target
    font = FontFile(str(source))
    if "glyf" in font:
        return source
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), glyf
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attribute in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attribute, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = font["head"].indexToLocFormat = 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"
    if name:
        font["name"].setName(name, 6, 3, 1, 0x409)
        font["name"].setName(name, 6, 1, 0, 0)
    partial = target.with_suffix(f".{threading.get_ident()}.tmp")
    font.save(str(partial))
    partial.replace(target)  # atomic: a concurrent renderer never reads half a font
    return target


class _Text:
    """Paragraph markup of plain text: escaped, and each character the common font lacks
    put in the fallback font of its block of 256 code points. Fallback fonts are cut per
    block, not per text, so whatever names people give their files, at most a few hundred
    are ever cut (each once, some seconds), and each is reused."""

    def __init__(self, facts: Facts | str, fonts: Fonts) -> None:
        self.common = _register(fonts.common, common=True)
        covered = _covered(self.common)
        text = facts if isinstance(facts, str) else _all_text(facts)
        missing = {c for c in text if ord(c) > 0x7E and ord(c) not in covered}
        self.fonts: dict[str, str] = {}
        if fonts.fallback is None:
            return
        for block in sorted({ord(c) >> 8 for c in missing}):
            chars = "".join(
                chr(u)
                for u in range(block << 8, (block + 1) << 8)
                if chr(u).isprintable() and not 0xD800 <= u <= 0xDFFF
            )
            name = _register(fonts.fallback(chars))
            self.fonts.update((c, name) for c in missing if ord(c) >> 8 == block)

    def __call__(self, text: object) -> str:
        text = str(text)
        if not self.fonts or self.fonts.keys().isdisjoint(text):
            return escape(text)
        return "".join(
            f'<font name="{self.fonts[c]}">{escape(c)}</font>' if c in self.fonts else escape(c)
            for c in text
        )


# The markup of another report of this portal (batch_report), given all its text at once.
Text = _Text


def _all_text(facts: Facts) -> str:
    parts = [facts.filename, *(s.zh + s.en + s.label for s in facts.steps)]
    if facts.record:
        r = facts.record
        parts += [r.court_zh, r.court_en, r.category_label, r.title or "", r.case_number or ""]
        parts += r.parties or []
        parts += [e.label + (e.channel_label or "") + (e.addressee or "") for e in r.timeline]
    return "".join(parts)


# --- Layout -------------------------------------------------------------------------------


def paragraph_style(
    name: str, size: float = 9, colour=INK, cjk: bool = True, **extra
) -> ParagraphStyle:
    """A paragraph style in the certificate's font; CJK line breaking unless `cjk` is off."""
    extra.setdefault("leading", size * 1.45)
    return ParagraphStyle(
        name,
        fontName=FONT,
        fontSize=size,
        textColor=colour,
        wordWrap="CJK" if cjk else None,
        **extra,
    )


# Chinese prose breaks between any two characters (ReportLab's CJK mode, which measures
# each character: the slowest part of a page); the short values of the tables break at
# spaces, a word too long for its cell between characters.
BODY = paragraph_style("body")
CELL = paragraph_style("cell", cjk=False)
EN = paragraph_style("en", colour=GREY, cjk=False)
HEX = paragraph_style("hex", 7.6, cjk=False)
SMALL = paragraph_style("small", 8)
STATUS_STYLES = {
    k: paragraph_style(f"s-{k}", colour=colors.HexColor(c), cjk=False)
    for k, c in STEP_COLOURS.items()
}
H1 = paragraph_style("h1", 17, colors.HexColor("#8b1a1a"), leading=22)
H2 = paragraph_style("h2", 11, leading=15)


def grey(text: str, size: float | None = None) -> str:
    """Paragraph markup: `text` in the certificate's grey (the English beside Chinese)."""
    size_attr = f' size="{size}"' if size else ""
    return f'<font color="#5b6675"{size_attr}>{text}</font>'


class Para(Paragraph):
    """A paragraph that breaks its lines once per width: a table measures each cell and
    then draws it, and ReportLab would break every line of the page twice."""

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        memo = self.__dict__.get("_wrapped")
        # A paragraph split across pages drops its broken lines (blPara): break again then.
        if memo is None or memo[0] != availWidth or "blPara" not in self.__dict__:
            memo = self._wrapped = (availWidth, super().wrap(availWidth, availHeight))
        return memo[1]


class _QrCode(Flowable):
    """The QR code's dark modules as filled squares, QR_SIZE wide."""

    def __init__(self, modules: list[list[bool]]) -> None:
        super().__init__()
        self.modules = modules

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return QR_SIZE, QR_SIZE

    def draw(self) -> None:
        n = len(self.modules)
        unit = QR_SIZE / n
        path = self.canv.beginPath()
        for y, row in enumerate(self.modules):
            x = 0
            while x < n:  # one rectangle per run of dark modules
                if not row[x]:
                    x += 1
                    continue
                start = x
                while x < n and row[x]:
                    x += 1
                path.rect(start * unit, (n - 1 - y) * unit, (x - start) * unit, unit)
        self.canv.setFillColor(colors.black)
        self.canv.drawPath(path, stroke=0, fill=1)


def table_style(commands: list) -> TableStyle:
    """A table's style; every cell in the certificate font (ReportLab sets a cell's font
    even when a paragraph draws it, and a font set is a font the PDF lists)."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def heading(zh: str, en: str) -> Table:
    """A section heading, Chinese with its English in grey, ruled below, kept with what follows."""
    table = Table(
        [[Para(f"{zh} {grey(en, 8.25)}", H2)]],
        colWidths=[WIDTH],
        style=table_style(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor(RULE)),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 5 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.8 * mm),
            ]
        ),
    )
    table.keepWithNext = True
    return table


def _box(lines: list[Paragraph], background: str | None, border: str | None) -> Table:
    style: list[tuple] = [
        ("LEFTPADDING", (0, 0), (-1, -1), 4 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
    ]
    style.append(("BOTTOMPADDING", (0, 0), (-1, -1), 2.5 * mm))
    if background:
        style.append(("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(background)))
    if border:
        style.append(("BOX", (0, 0), (-1, -1), 1, colors.HexColor(border)))
    return Table([[lines]], colWidths=[WIDTH], style=table_style(style), spaceBefore=3 * mm)


def _rows(rows: list[list], widths: list[float], ruled: bool = False) -> Table:
    style: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 1.5 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 0.8 * mm),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.8 * mm),
    ]
    if ruled:
        style.append(("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#eceef1")))
    return Table(rows, colWidths=widths, style=table_style(style))


def _outcome(facts: Facts, t: _Text) -> tuple[str, str]:
    """The finding in Chinese and in English."""
    record, code = facts.record, facts.by_code
    if facts.outcome == "verified":
        if record and record.title:
            return (
                f"核验通过：该文件就是{t(record.court_zh)}登记的《{t(record.title)}》，登记后从未被改动。",
                f"Verified: the file is exactly “{t(record.title)}” as recorded by "
                f"{t(record.court_en)}, unchanged since.",
            )
        if record:
            return (
                f"核验通过：该文件就是{t(record.court_zh)}登记的文件，登记后从未被改动。",
                f"Verified: the file is exactly the one recorded by {t(record.court_en)}, "
                "unchanged since.",
            )
        return (
            "核验通过：该文件的摘要已登记在司法账本上，登记后从未被改动。",
            "Verified: the file's digest is recorded on the court ledger, unchanged since.",
        )
    if facts.outcome == "not_found":
        return (
            f"未找到：司法账本中没有登记过该文件{'或核验码' if code else ''}。",
            "Not found: the court ledger has no record of this file"
            f"{' or record code' if code else ''}.",
        )
    if facts.outcome == "conflict":
        return (
            "与账本不符：本平台保存的记录与法院的司法账本不一致，不能作为核验通过；"
            "请以法院送达的文书为准，并联系作出该文书的法院。",
            "Disagrees with the ledger: the portal's copy of the record disagrees with the "
            "court's ledger, so it is not verified; rely on the document the court served and "
            "contact that court.",
        )
    if facts.outcome == "mismatch":
        return (
            "不一致：核验码对应的记录存在，但该文件与法院登记的文件不一致。",
            "Not identical: the record exists, but this file differs from the one the court "
            "recorded.",
        )
    return (
        "无法核验：本次未能完成核验，这并不表示文件无效。",
        "Could not be checked: the check was not completed; this does not mean the file is "
        "invalid.",
    )


def _field(zh: str, en: str, value: str, style: ParagraphStyle = CELL) -> list:
    return [Para(f"{zh} {grey(en)}", CELL), Para(value, style)]


NOT_CHECKED = f"未经核对 {grey('not checked')}"


def _trusted_time(when: str, tsa: str, development: bool, t: _Text) -> Table:
    """The trusted time, prominently: the record was on the ledger no later than `when`."""
    colour = RED if development else INK
    lines = [
        Para(f"记录时间不晚于 {when}（可信时间来自 {t(tsa)}）", paragraph_style("tt", 11, colour)),
        Para(
            f"Recorded no later than {when} (trusted time from {t(tsa)})",
            paragraph_style("tt-en", 11, colour, cjk=False),
        ),
    ]
    if development:
        lines.append(
            Para(
                "开发用时间戳服务：并非可信时间。"
                "DEVELOPMENT timestamp authority: not trusted time.",
                paragraph_style("tt-dev", colour=RED),
            )
        )
    return _box(lines, None, "#aa1111" if development else "#333333")


def _anchored(anchor: Anchored, t: _Text) -> Table:
    """The chain anchor: the covering checkpoint's root is in block B of chain C."""
    colour = RED if anchor.development else INK
    dev_zh = "（开发用本地测试链）" if anchor.development else ""
    dev_en = " (DEVELOPMENT: a local test chain)" if anchor.development else ""
    return _box(
        [
            Para(
                f"已锚定在链 {anchor.chain_id}{dev_zh} 的第 {anchor.block_number} 号区块，"
                f"区块时间 {anchor.when}",
                paragraph_style("anc", 10, colour),
            ),
            Para(
                f"Anchored in block {anchor.block_number} of chain {anchor.chain_id}{dev_en} "
                f"at {anchor.when}",
                paragraph_style("anc-en", 10, colour, cjk=False),
            ),
            Para(f"{grey('transaction')} {t(anchor.transaction_hash)}", SMALL),
        ],
        None,
        "#aa1111" if anchor.development else "#333333",
    )


def _story(facts: Facts, t: _Text) -> list[Flowable]:
    story: list[Flowable] = []
    head = [
        Para(f"司法文书核验证书 {grey('Verification certificate', 12.75)}", H1),
        Para(f"证书编号 {grey('Certificate number')} {facts.number}", paragraph_style("n", 10)),
        Para(f"在线查看与重新核验 {grey('View and re-check online')}: {t(facts.url)}", SMALL),
    ]
    story.append(
        Table(
            [[head, _QrCode(facts.qr)]],
            colWidths=[WIDTH - QR_SIZE, QR_SIZE],
            style=table_style(
                [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]
                + [("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0)]
            ),
        )
    )
    if facts.development:
        red = paragraph_style("dev", colour=RED)
        story.append(
            _box(
                [
                    Para("开发用证书：本证书由平台的开发用测试 CA 签名，不得用于诉讼。", red),
                    Para(
                        "DEVELOPMENT certificate: signed with this portal's development CA, "
                        "not for use in court.",
                        paragraph_style("dev-en", colour=RED, cjk=False),
                    ),
                ],
                None,
                "#aa1111",
            )
        )
    ink, background = OUTCOME_COLOURS.get(facts.outcome, OUTCOME_COLOURS["inconclusive"])
    zh, en = _outcome(facts, t)
    story.append(
        _box(
            [
                Para(zh, paragraph_style("o", 11, colors.HexColor(ink))),
                Para(en, paragraph_style("o-en", 11, colors.HexColor(ink), cjk=False)),
            ],
            background,
            None,
        )
    )

    if facts.recorded_no_later is not None:
        story.append(_trusted_time(*facts.recorded_no_later, t))
    if facts.anchored is not None:
        story.append(_anchored(facts.anchored, t))

    story.append(heading("核验步骤", "Steps"))
    if facts.steps:
        story.append(
            _rows(
                [
                    [
                        Para(t(s.label), STATUS_STYLES.get(s.status, CELL)),
                        [Para(t(s.zh), BODY), Para(t(s.en), EN)],
                    ]
                    for s in facts.steps
                ],
                [STATUS, WIDTH - STATUS],
                ruled=True,
            )
        )

    story.append(heading("文件", "File"))
    rows = []
    if facts.filename:
        rows.append(_field("文件名", "Name", t(facts.filename)))
    if facts.size is not None:
        rows.append(_field("大小", "Size", f"{facts.size} 字节 bytes"))
    rows.append(_field("", "SHA-256", facts.sha256 or "—", HEX))
    rows.append(_field("", "SM3", facts.sm3 or "—", HEX))
    story.append(_rows(rows, [LABEL, WIDTH - LABEL]))

    if (r := facts.record) is not None:
        story.append(heading("登记记录", "Record (public face)"))
        parties = NOT_CHECKED if r.parties is None else t("、".join(r.parties) or "—")
        rows = [
            _field("核验码", "Record code", t(r.code)),
            _field("法院", "Court", f"{t(r.court_zh)} {grey(t(r.court_en))}"),
            _field("类别", "Category", t(r.category_label)),
            _field("标题", "Title", NOT_CHECKED if r.title is None else t(r.title)),
            _field(
                "案号",
                "Case number",
                NOT_CHECKED if r.case_number is None else t(r.case_number or "—"),
            ),
            _field("当事人", "Parties", parties),
            _field("登记时间", "Recorded", t(r.recorded_at)),
        ]
        story.append(_rows(rows, [LABEL, WIDTH - LABEL]))
        if r.timeline:
            story.append(heading("送达过程", "Service timeline"))
            events = []
            for e in r.timeline:
                text = t(e.label)
                text += f" · {t(e.channel_label)}" if e.channel_label else ""
                text += f" · {t(e.addressee)}" if e.addressee else ""
                if e.proven:
                    text += (
                        f" · 账本第 {e.ledger_index} 条 {grey(f'ledger entry {e.ledger_index}')}"
                    )
                else:
                    text += f" · 未经账本证明 {grey('not proven by the ledger')}"
                events.append([Para(t(e.occurred_at), CELL), Para(text, CELL)])
            story.append(_rows(events, [STATUS + 6 * mm, WIDTH - STATUS - 6 * mm], ruled=True))

    story.append(heading("账本证明", "Ledger proof"))
    rows = []
    if facts.entry_index is not None:
        rows.append(_field("账本条目", "Entry index", str(facts.entry_index)))
    rows.append(_field("账本", "Checkpoint origin", t(facts.origin)))
    if facts.tree_size is not None:
        rows.append(_field("树大小", "Tree size", str(facts.tree_size)))
        rows.append(_field("根哈希", "Root hash", facts.root_hash or "—", HEX))
    rows.append(_field("账本公钥", "Log key id", t(facts.log_key_id or "—"), HEX))
    if facts.consistency:
        rows.append(
            _field(
                "一致性",
                "Consistency",
                "包含从较早检查点起的一致性证明 "
                + grey("with a consistency proof from an earlier checkpoint"),
            )
        )
    rows.append(_field("核验时间", "Verified at", t(facts.finished_at)))
    rows.append(_field("核验编号", "Verification id", t(facts.verification_id), HEX))
    story.append(_rows(rows, [LABEL, WIDTH - LABEL]))

    story.append(heading("本证书证明什么", "What this certificate proves, and what it does not"))
    if facts.outcome == "verified":
        listed = "，上列送达事件亦各自记入账本" if facts.service_events else ""
        proves_zh = (
            f"它证明：具有上述 SHA-256 与 SM3 摘要的文件已登记在司法账本第 {facts.entry_index} 条，"
            f"该条目包含在由账本密钥签名的检查点中{listed}。"
        )
        listed = (
            ", and that each service event listed is recorded too" if facts.service_events else ""
        )
        proves_en = (
            f"It proves that a file with the SHA-256 and SM3 above is recorded as entry "
            f"{facts.entry_index} of the court ledger, in a checkpoint signed with the log "
            f"key{listed}."
        )
    else:
        proves_zh = "它记录了本平台在上述时间的核验结论及其理由。"
        proves_en = "It records this portal's finding at the time above, and why."
    story.append(
        Para(
            proves_zh + "它不证明文件内容本身真实或合法，也不证明未登记的文件为伪造；"
            "“未找到”只表示账本中没有该摘要。",
            BODY,
        )
    )
    story.append(
        Para(
            proves_en + " It does not prove that the content is true or lawful, nor that an "
            'unrecorded file is forged: "not found" only means the ledger holds no such digest.',
            EN,
        )
    )

    story.append(heading("如何独立核验", "How to check it independently"))
    name = t(facts.bundle_name)
    story.append(
        Para(
            f"本 PDF 由平台签名（PAdES），并附有证明包 {name}。"
            "无需联网、无需信任本平台，即可用离线核验工具复核全部证明：",
            BODY,
        )
    )
    story.append(
        Para(
            f"This PDF is signed by the portal (PAdES) and carries the proof bundle {name} as "
            "an attachment. The offline verifier re-checks every proof with no network and no "
            "trust in this portal:",
            EN,
        )
    )
    story.append(
        Para("judicial-verify certificate CERTIFICATE.pdf --file ORIGINAL --policy POLICY.txt", HEX)
    )
    pins = " ".join(f"portal-ca {fp}" for fp in facts.ca_fingerprints)
    story.append(
        Para(
            "信任策略列出账本公钥与平台证书颁发机构指纹 "
            f"{grey('The trust policy lists the log key and the portal CA’s fingerprint')}:",
            SMALL,
        )
    )
    story.append(Para(pins, HEX))
    return story


class _FooterCanvas(Canvas):
    """A canvas that writes "page n / N" on each page once it knows N."""

    footer = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(GREY)
            self.drawCentredString(
                A4[0] / 2, BOTTOM / 2, self.footer.format(page=number, pages=total)
            )
            super().showPage()
        super().save()


def build(story: list, *, title: str, footer: str, **info: str) -> bytes:
    """A4 pages of `story` in the house layout (margins, font), with `footer` at the
    foot of each page ({page} and {pages} filled in); `info` adds PDF metadata."""
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=BOTTOM,
        title=title,
        creator="Judicial verification portal",
        initialFontName=FONT,
        pageCompression=1,
        **info,
    )
    canvas = type("Footer", (_FooterCanvas,), {"footer": footer})
    document.build(story, canvasmaker=canvas)
    return out.getvalue()


def render(facts: Facts, fonts: Fonts) -> bytes:
    """The certificate as an unsigned PDF (A4), without its attachment."""
    return build(
        _story(facts, _Text(facts, fonts)),
        title=f"司法文书核验证书 Verification certificate {facts.number}",
        footer=f"证书编号 Certificate {facts.number} · 第 {{page}} / {{pages}} 页 page",
        author=facts.origin,
        subject=f"Verification {facts.verification_id}: {facts.outcome}",
    )
