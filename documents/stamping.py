"""Stamping a PDF: the record's QR code, its code and a one-line notice on chosen pages.

The stamp is an incremental update (pyHanko), so the court's original bytes stay a
prefix of the stamped file and an existing signature of the court is not disturbed. The
notice font is a subset of a CJK OpenType font made once per notice text, so stamping
does not parse a 16 MB font for every document.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont
from pyhanko import stamp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.text import TextBoxStyle

MM = 72 / 25.4
# pyHanko sizes the code with its 4-module quiet zone; 32 mm leaves 26 mm or more of
# modules for the URLs we print (QR versions 4 and 5).
QR_SIZE = 32 * MM
MARGIN = 8 * MM
# The code printed beside the QR code must stay legible on paper: 10 pt at least, with a
# line spacing (leading) that keeps the CJK glyphs of one line clear of the next.
FONT_SIZE = 10
LEADING = 15


class StampError(ValueError):
    """The file cannot be stamped: not a PDF, encrypted, or pages that do not exist."""


class PageSelectionError(StampError):
    """The pages asked for are written wrongly or are not in the document: the request's
    page selection is at fault, not the file."""


def subset_font(source: Path, face: str, text: str, cache_dir: Path) -> Path:
    """An OpenType font with only the glyphs of `text` and printable ASCII, cached on disk."""
    chars = "".join(sorted(set(text) | {chr(c) for c in range(32, 127)}))
    key = hashlib.sha256(f"{source}|{face}|{chars}".encode()).hexdigest()[:16]
    target = cache_dir / f"stamp-{key}.otf"
    if target.exists():
        return target
    if source.suffix.lower() == ".ttc":
        fonts = TTCollection(str(source)).fonts
        font = next((f for f in fonts if f["name"].getDebugName(4) == face), fonts[0])
    else:
        font = TTFont(str(source))
    options = subset.Options()
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    font.save(str(partial))
    partial.replace(target)  # atomic, so a concurrent stamper never reads half a font
    return target


def parse_pages(spec: str, count: int) -> list[int]:
    """Page numbers (0-based) from "all" or "1,3-5" (1-based, as a court clerk writes them)."""
    if spec.strip().lower() in ("", "all"):
        return list(range(count))
    pages: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise PageSelectionError(f"page selection {spec!r} is not like '1,3-5'") from None
        if not 1 <= lo <= hi <= count:
            raise PageSelectionError(f"pages {part.strip()} do not exist: the document has {count}")
        pages.update(range(lo - 1, hi))
    return sorted(pages)


def _give_contents(writer: IncrementalPdfFileWriter, page: int) -> None:
    """A page without a content stream (a blank page, which PDF allows) gets an empty one:
    pyHanko adds the stamp's stream to the page's and fails on a page that has none."""
    page_ref, _ = writer.find_page_for_modification(page)
    page_obj = page_ref.get_object()
    if "/Contents" not in page_obj:
        page_obj["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b""))
        writer.mark_update(page_ref)


def stamp_pdf(pdf: bytes, *, url: str, lines: str, font: Path, pages: str = "all") -> bytes:
    """The PDF with a QR code to `url` and the text `lines` at the bottom left of pages."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        if writer.prev.encrypted:
            raise StampError("the PDF is encrypted; send it without a password")
        count = int(writer.root["/Pages"]["/Count"])
    except (PdfError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, StampError):
            raise
        raise StampError(f"the file is not a readable PDF ({exc})") from None
    style = stamp.QRStampStyle(
        stamp_text=lines,
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(str(font), font_size=FONT_SIZE),
            font_size=FONT_SIZE,
            leading=LEADING,
        ),
        border_width=0,
        innsep=2,
        qr_inner_size=round(QR_SIZE),
    )
    for page in parse_pages(pages, count):
        _give_contents(writer, page)
        qr = stamp.QRStamp(writer, url, style)
        qr.apply(page, round(MARGIN), round(MARGIN))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
