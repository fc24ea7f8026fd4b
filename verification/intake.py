"""How files, digests, codes and photos come in, and how a verification is started.

An uploaded file is hashed as it arrives (SHA-256 in a second thread, SM3 here, so both
run at once) and dropped chunk by chunk: memory stays bounded and the file is never
stored. A photo of a printed page is read for its QR code with zxing-cpp.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from rest_framework.request import Request

from anchoring.digest import new_sm3
from documents import codes
from plumbing import cpu_bound, tasks
from plumbing.body_limits import UploadCap
from verification.models import Verification
from verification.scanned_urls import OwnAddress, read_url


class DigestedFile(UploadedFile):
    """What remains of an upload: its name, size and digests. The bytes are gone."""

    name: str

    def __init__(self, name: str, size: int, sha256: bytes, sm3: bytes) -> None:
        super().__init__(file=io.BytesIO(), name=name, size=size)
        self.sha256, self.sm3 = sha256, sm3

    def verification_fields(self) -> dict:
        """The fields of a verification of this upload: its digests, size and name."""
        return {
            "sha256": self.sha256.hex(),
            "sm3": self.sm3.hex(),
            "size": self.size,
            "filename": self.name[:255],
            "source": Verification.Source.UPLOAD,
        }


class _ParallelDigests:
    """SHA-256 of each chunk in a native thread (hashlib releases the GIL) while SM3 hashes
    it in the caller; one chunk in flight, so memory stays bounded and the order kept."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.sm = new_sm3()
        self._pending = None

    def _sha_update(self, chunk: bytes) -> None:
        self.sha.update(chunk)

    def update(self, chunk: bytes) -> None:
        if self._pending is not None:
            self._pending.result()  # the previous chunk is in the SHA-256 before this one
        self._pending = cpu_bound.start(self._sha_update, chunk)
        self.sm.update(chunk)

    def finish(self) -> tuple[bytes, bytes]:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        return self.sha.digest(), self.sm.digest()


class DigestingUploadHandler(FileUploadHandler):
    """A Django upload handler that hashes each file as it streams in and keeps nothing."""

    chunk_size = 1 << 20

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._digests = _ParallelDigests()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._digests.update(raw_data)
        return None  # no other handler gets the bytes

    def file_complete(self, file_size: int) -> DigestedFile:
        sha, sm = self._digests.finish()
        return DigestedFile(self.file_name or "", file_size, sha, sm)


def use_digesting_upload(request: HttpRequest | Request) -> None:
    """Make this request hash its uploads instead of storing them (before it is parsed),
    stopping them once they pass VERIFY_MAX_FILE_SIZE (plumbing.body_limits)."""
    request.upload_handlers = [
        UploadCap(request, settings.VERIFY_MAX_FILE_SIZE),
        DigestingUploadHandler(request),
    ]


@dataclass(frozen=True)
class ScannedCode:
    """A record code read from a QR code, and the website the code's URL leads to."""

    code: str | None  # canonical; None only in another website's URL
    host: str  # as a browser names it (verification.scanned_urls)
    own: bool  # this portal's address (PUBLIC_BASE_URL, or a name of ALLOWED_HOSTS)


def code_from_url(text: str) -> ScannedCode:
    """The record code in a verification URL and where the URL leads. CodeError when it
    is no verification URL, or one of this portal's with a malformed code; another
    website's URL is returned (`own` false) whatever its code, for the caller to warn."""
    scanned = read_url(text, OwnAddress(settings.PUBLIC_BASE_URL, settings.ALLOWED_HOSTS))
    if scanned is None or scanned.code_text is None:
        raise codes.CodeError(
            codes.CodeProblem.URL, "this QR code does not hold a record's verification URL"
        )
    if scanned.own:
        return ScannedCode(codes.normalize(scanned.code_text), scanned.host, own=True)
    try:
        code: str | None = codes.normalize(scanned.code_text)
    except codes.CodeError:
        code = None
    return ScannedCode(code, scanned.host, own=False)


def code_from_photo(data: bytes) -> ScannedCode:
    """Read the QR code in a photo or scan of a page: its record code and where it leads.
    Of several codes, this portal's first."""
    return cpu_bound.run(_code_from_photo, data)  # a phone's photo: a large decode


def _code_from_photo(data: bytes) -> ScannedCode:
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    too_large = codes.CodeError(
        codes.CodeProblem.PIXELS,
        f"the picture has more than {settings.VERIFY_MAX_PHOTO_PIXELS} pixels",
    )
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        # A small file may declare a huge picture: refused before it is decoded.
        if image.width * image.height > settings.VERIFY_MAX_PHOTO_PIXELS:
            raise too_large
        image.load()
    except Image.DecompressionBombError:  # over Pillow's own limit (2 * Image.MAX_IMAGE_PIXELS)
        raise too_large from None
    except (UnidentifiedImageError, OSError):
        raise codes.CodeError(
            codes.CodeProblem.IMAGE, "the file is not a picture we can read"
        ) from None
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found = zxingcpp.read_barcodes(image, formats=qr_only)
    if not found:
        raise codes.CodeError(codes.CodeProblem.NO_QR, "no QR code could be read in the picture")
    errors, elsewhere = [], []
    for result in found:
        try:
            scanned = code_from_url(result.text)
        except codes.CodeError as exc:
            errors.append(exc)
            continue
        if scanned.own:
            return scanned
        elsewhere.append(scanned)
    if elsewhere:
        return elsewhere[0]
    raise errors[0]


def start(inline: bool = False, **fields) -> Verification:
    """Create a verification and run its job once the row is committed.

    inline: check it in this process instead when the ledger is this deployment's own
    (VERIFY_INLINE), queueing the job only if the ledger cannot be reached. A job the
    broker cannot take leaves the row pending; tasks.sweep queues it again later.
    """
    from verification.tasks import verify, verify_now

    if inline and settings.VERIFY_INLINE and settings.LEDGER_BACKEND == "local":
        done = verify_now(**fields)
        if done is not None:
            return done
    verification = Verification.objects.create(**fields)
    verify.delay_on_commit(verification.pk)
    if tasks.ran_on_commit():
        verification.refresh_from_db()
    return verification
