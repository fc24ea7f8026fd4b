"""A video for Chromium's fake camera (`--use-file-for-fake-video-capture`): a QR code
printed on a sheet of paper held in front of the lens, written as YUV4MPEG2 (4:2:0).

Chromium plays the file in a loop as the camera's picture; a few frames suffice.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 480
FRAMES = 3


def paper_with_qr(url: str) -> Image.Image:
    """A camera's view of a page: grey desk, a white sheet slightly turned, lines of text
    and the QR code of `url` at about a third of the picture's height."""
    from documents import qr

    code = Image.open(io.BytesIO(qr.png(url, box_size=4))).convert("L")
    sheet = Image.new("L", (400, 420), 250)
    draw = ImageDraw.Draw(sheet)
    for y in range(30, 110, 16):  # the judgment's text above its stamp
        draw.line((30, y, 370, y), fill=90, width=3)
    sheet.paste(code.resize((200, 200), Image.NEAREST), (100, 140))
    sheet = sheet.rotate(4, resample=Image.BICUBIC, expand=True, fillcolor=110)
    view = Image.new("L", (WIDTH, HEIGHT), 110)
    view.paste(sheet, ((WIDTH - sheet.width) // 2, (HEIGHT - sheet.height) // 2))
    return view.convert("RGB")


def write_y4m(picture: Image.Image, path: Path, frames: int = FRAMES) -> Path:
    """The picture as a still video of `frames` frames at 10 per second, 4:2:0 YUV."""
    y, cb, cr = picture.convert("YCbCr").split()
    half = (picture.width // 2, picture.height // 2)
    frame = (
        b"FRAME\n"
        + y.tobytes()
        + cb.resize(half, Image.BILINEAR).tobytes()
        + cr.resize(half, Image.BILINEAR).tobytes()
    )
    header = f"YUV4MPEG2 W{picture.width} H{picture.height} F10:1 Ip A1:1 C420jpeg\n"
    path.write_bytes(header.encode("ascii") + frame * frames)
    return path
