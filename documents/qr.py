"""QR codes for records: the payload is the record's short verification URL, nothing else.

Error correction Q (a quarter of the code may be damaged: a fold, a stamp, a smudge)
and a 4-module quiet zone; printed at 25 mm or more, a phone camera reads it from paper.
"""

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

LEVELS = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}


def _code(url: str, level: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=LEVELS[level], border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr


def png(url: str, level: str = "Q", box_size: int = 10) -> bytes:
    """The QR code as a black-on-white PNG, box_size pixels per module."""
    qr = _code(url, level)
    qr.box_size = box_size
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue()


def svg(url: str, level: str = "Q") -> bytes:
    """The QR code as a single-path SVG that scales to any print size."""
    qr = _code(url, level)
    out = io.BytesIO()
    qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(out)
    return out.getvalue()


def modules(url: str, level: str = "Q") -> list[list[bool]]:
    """The QR code's modules, row by row from the top, True for dark, quiet zone included."""
    return _code(url, level).get_matrix()
