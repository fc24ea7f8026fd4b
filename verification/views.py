"""The public pages: intake (upload, code, photo), the record page, the result page.

No login is needed for any of them. Judges who are logged in see records unmasked and
the history of their verifications.
"""

from __future__ import annotations

import tempfile
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST, require_safe

from anchoring.backend import BackendUnavailable, get_backend
from documents import codes
from documents.public import find
from plumbing import body_limits, cpu_bound, error_codes
from plumbing.page_limits import rate_limited
from plumbing.redirects import local_target, redirect_back
from plumbing.tasks import in_process
from verification import certificate, intake, page_images, signing, tasks
from verification.models import Certificate, Verification
from verification.record_check import check_record, face_of, ledger_agrees, original_matches
from verification.templatetags.verification_pages import refused_file

FULL_RECORD = "verification.view_full_record"


# A message about a field of the home page's forms is shown beside it (the page finds it
# by its tag, and the summary at the top links to the field of that id); at most
# CODE_KEPT characters of a typed record code are given back.
CODE_FIELD = "field-code"
FILE_FIELD = "field-file"
PHOTO_FIELD = "field-photo"
CODE_KEPT = 64

# Sent by the page's script with an upload it follows (static/js/verify.js): the answer is
# then where to go, as JSON, and the browser goes there itself (with any message kept
# for that page, not spent on the script's request).
UPLOAD_PROGRESS_HEADER = "X-Upload-Progress"


def _go(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A redirect, or for the script that follows an upload, its address as JSON."""
    if request.headers.get(UPLOAD_PROGRESS_HEADER) == "1" and response.status_code == 302:
        return JsonResponse({"location": response["Location"]})
    return response


def _in_language(message: error_codes.PageMessage, **params: object) -> str:
    """A page message in the reader's language."""
    return message.in_language(translation.get_language() or settings.LANGUAGE_CODE, **params)


def _code_problem(exc: codes.CodeError) -> str:
    """What is wrong with a typed or scanned record code, in the reader's language."""
    return _in_language(error_codes.CODE_PROBLEMS.get(exc.reason, error_codes.CODE_PROBLEM_UNKNOWN))


def home_fields(request: HttpRequest) -> dict:
    """The home page's forms as the reader left them: the record code typed (kept in its
    box), and the messages to show beside the code, file and photo fields."""
    pending = list(messages.get_messages(request))
    return {
        "typed_code": request.GET.get("code", "")[:CODE_KEPT],
        **{
            f"{field}_errors": [m for m in pending if f"field-{field}" in m.extra_tags]
            for field in ("code", "file", "photo")
        },
    }


def _bad_code(request: HttpRequest, exc: codes.CodeError, back: str | None = None) -> HttpResponse:
    """Back to the page of this site the code came from (else home), saying what is
    wrong."""
    messages.error(request, _code_problem(exc))
    return _go(request, redirect_back(request, back, reverse("home")))


def _refused_file(
    request: HttpRequest, field: str, name: str | None, problem: str, back: str
) -> HttpResponse:
    """Back to the form the file was chosen in (its other choices kept), the message
    naming the file refused, shown beside its field."""
    text = refused_file(name, problem) if name else problem
    messages.error(request, text, extra_tags=field)
    target = redirect_back(request, back, reverse("home"))
    target["Location"] += f"#check-{field.removeprefix('field-')}"
    return _go(request, target)


def _missing_or_empty(
    request: HttpRequest,
    field: str,
    given: UploadedFile | None,
    missing: error_codes.PageMessage,
    back: str,
) -> HttpResponse:
    """The refusal of a form's file that was not chosen (`missing` says so) or is empty."""
    if given is None:
        return _refused_file(request, field, None, _in_language(missing), back)
    problem = _in_language(error_codes.PAGE_EMPTY_FILE)
    return _refused_file(request, field, given.name, problem, back)


@require_GET
@rate_limited("pages")
def lookup(request: HttpRequest) -> HttpResponse:
    """A typed record code: go to its record page."""
    typed = request.GET.get("code", "")
    try:
        code = codes.normalize(typed)
    except codes.CodeError as exc:
        # Back to the form with what was typed kept in its box and the message beside it.
        messages.error(request, _code_problem(exc), extra_tags=CODE_FIELD)
        query = urlencode({"code": typed[:CODE_KEPT]})
        return redirect(f"{reverse('home')}?{query}#check-code")
    return redirect("record-page", code=codes.display(code))


@require_safe
@rate_limited("pages")
def record_page(request: HttpRequest, code: str) -> HttpResponse:
    """/v/<code>: the record's public face, its service timeline, a place to check a file."""
    try:
        record = find(code)
    except codes.CodeError as exc:
        return _bad_code(request, exc)
    if record is None:
        return render(request, "verification/record_missing.html", {"code": code}, status=404)
    if codes.display(record.code) != code:
        return redirect("record-page", code=codes.display(record.code))
    judge = request.user.has_perm(FULL_RECORD)
    face = face_of(record, full=judge)
    original, pages = _original_pages(record) if face.get("download") else (None, [])
    context = {
        **home_fields(request),
        "record": face,
        "judge": judge,
        "code": codes.display(record.code),
        "portal_contact": settings.PORTAL_CONTACT,
        # The offered original is not the one the ledger records: neither offered nor shown.
        "original_damaged": original is False,
        "pages": pages,
    }
    if judge:
        # Each outcome as it is shown now: never verified from its row alone.
        context["history"] = [
            (v, v.outcome_now(face.get("ledger_agrees")))
            for v in record.verifications.order_by("-created_at")[:100]
        ]
    return render(request, "verification/record.html", context)


def _original_pages(record) -> tuple[bool | None, list[int]]:
    """Whether the original offered for download is the one the ledger records (None: the
    ledger cannot be reached now), and the pages of it to show as images (a PDF's, at most
    RECORD_PAGE_IMAGES_MAX), counted from those checked bytes; each image is checked
    again when it is drawn."""
    if not record.file:
        return None, []
    try:
        check = check_record(record, get_backend())
    except BackendUnavailable:
        return None, []
    with tempfile.TemporaryFile() as checked:
        if not original_matches(record, check, copy_to=checked):
            return False, []
        if record.media_type != "application/pdf":
            return True, []
        checked.seek(0)
        try:
            count = page_images.page_count(checked.read())
        except page_images.PageError:
            return True, []
    return True, list(range(1, min(count, settings.RECORD_PAGE_IMAGES_MAX) + 1))


def _checked_original(request: HttpRequest, code: str):
    """The record and a temporary file holding its original, checked against the SHA-256
    its ledger entry commits to; or the page refusing it (404 where the court allows no
    download, 503 while the ledger cannot be reached, 409 when the bytes are not the
    recorded ones)."""
    record = find(code)
    if record is None or not (record.allow_download and record.file):
        raise Http404("no downloadable file")
    context = {"code": codes.display(record.code), "portal_contact": settings.PORTAL_CONTACT}
    try:
        check = check_record(record, get_backend())
    except BackendUnavailable:
        context["reason"] = "unavailable"
        return record, render(request, "verification/file_refused.html", context, status=503)
    checked = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes (so removes) it
    if not original_matches(record, check, copy_to=checked):
        checked.close()
        return record, render(request, "verification/file_refused.html", context, status=409)
    checked.seek(0)
    return record, checked


@require_safe
@rate_limited("downloads")
def record_file(request: HttpRequest, code: str) -> HttpResponseBase:
    """The recorded file itself, where the court allowed it, and only if its SHA-256 is
    the one the record's ledger entry commits to."""
    record, checked = _checked_original(request, code)
    if isinstance(checked, HttpResponse):
        return checked
    return FileResponse(
        checked,
        as_attachment=True,
        filename=record.download_name(),
        content_type=record.media_type or "application/octet-stream",
    )


@require_safe
@rate_limited("downloads")
def record_page_image(request: HttpRequest, code: str, number: int) -> HttpResponseBase:
    """Page `number` of the recorded original as an image, checked like the download (and
    rendered from the checked bytes), for holders of the paper copy to compare."""
    record, checked = _checked_original(request, code)
    if isinstance(checked, HttpResponse):
        return checked
    with checked:
        if record.media_type != "application/pdf" or number > settings.RECORD_PAGE_IMAGES_MAX:
            raise Http404("no such page")
        try:
            png = cpu_bound.run(
                page_images.render,
                checked.read(),
                number,
                settings.RECORD_PAGE_IMAGE_DPI,
                settings.RECORD_PAGE_IMAGE_MAX_PIXELS,
            )
        except page_images.PageError:
            raise Http404("no such page") from None
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = (
        f'inline; filename="{codes.display(record.code)}-{number}.png"'
    )
    return response


def _file_too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.VERIFY_MAX_FILE_SIZE / (1 << 30)
    return body_limits.page_refusal(request, error_codes.PAGE_FILE_TOO_LARGE, limit=f"{limit:g}")


@body_limits.limited_body(lambda: settings.VERIFY_MAX_FILE_SIZE, _file_too_large)
@csrf_exempt
@require_POST
@rate_limited("verifications")  # before the body is read: a refusal costs no upload
def upload(request: HttpRequest) -> HttpResponse:
    """A file uploaded from a form: hashed as it arrives (see intake), never stored."""
    intake.use_digesting_upload(request)  # before CSRF or anything else reads the body
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    back = local_target(request, request.POST.get("back"), reverse("home"))
    upload_file = request.FILES.get("file")
    if upload_file is None or upload_file.size == 0:
        return _missing_or_empty(request, FILE_FIELD, upload_file, error_codes.PAGE_NO_FILE, back)
    assert isinstance(upload_file, intake.DigestedFile)  # the only upload handler here
    fields = upload_file.verification_fields()
    if request.POST.get("code"):
        try:
            fields["code"] = codes.normalize(request.POST["code"])
        except codes.CodeError as exc:
            return _bad_code(request, exc, back)
    v = intake.start(inline=True, **fields)  # digests known: no need for the queue
    return _go(request, redirect("verification-page", verification_id=v.id))


def _photo_too_large(request: HttpRequest) -> HttpResponse:
    return body_limits.page_refusal(request, error_codes.PAGE_PHOTO_TOO_LARGE)


@body_limits.limited_body(lambda: settings.VERIFY_MAX_PHOTO_SIZE, _photo_too_large)
@csrf_exempt
@require_POST
@rate_limited("photos")
def photo(request: HttpRequest) -> HttpResponse:
    """A photo or scan of a page bearing a QR code: read it and open the record."""
    return _photo(request)  # read in the view: a stopped upload is answered as too large


@csrf_protect
def _photo(request: HttpRequest) -> HttpResponse:
    picture = request.FILES.get("photo")
    home = reverse("home")
    if picture is None or picture.size == 0:
        return _missing_or_empty(request, PHOTO_FIELD, picture, error_codes.PAGE_NO_PHOTO, home)
    try:
        scanned = intake.code_from_photo(picture.read())
    except codes.CodeError as exc:
        return _refused_file(request, PHOTO_FIELD, picture.name, _code_problem(exc), home)
    if not scanned.own:  # never followed: the person decides (verification/scanned_urls.py)
        return render(
            request,
            "verification/foreign_qr.html",
            {
                "host": scanned.host,
                "code": codes.display(scanned.code) if scanned.code else None,
                "portal_host": urlsplit(settings.PUBLIC_BASE_URL).netloc,
            },
        )
    assert scanned.code is not None  # this portal's URL with a malformed code raised
    shown = codes.display(scanned.code)
    messages.info(
        request, gettext("The record code %(code)s was read from your photo.") % {"code": shown}
    )
    return redirect("record-page", code=shown)


@require_safe
@rate_limited("pages")
def verification_page(request: HttpRequest, verification_id: str) -> HttpResponse:
    """/verifications/<id>: progress while it runs, then the outcome and every step."""
    v = get_object_or_404(Verification.objects.select_related("record__court"), pk=verification_id)
    judge = request.user.has_perm(FULL_RECORD)
    done = v.status == Verification.Status.DONE
    if done and not in_process() and not Certificate.objects.filter(verification=v).exists():
        # A person is looking at the result: render the certificate before they ask for it.
        tasks.issue_certificate.delay_on_commit(v.pk)
    # Checked against the ledger once there is an outcome to show it with.
    record = face_of(v.record, full=judge) if v.record and v.outcome else None
    shown = v.outcome_now(ledger_agrees(v, record)) if done else "pending"
    return render(
        request,
        "verification/result.html",
        {
            "v": v,
            "shown": shown,
            "steps": v.steps.all(),
            "record": record,
            # The court's contact details (a directory entry, not a ledger fact).
            "court": v.record.court if v.record else None,
            "code": codes.display(v.code) if v.code else None,
            "portal_contact": settings.PORTAL_CONTACT,
            "refresh": None if done else settings.VERIFY_PAGE_REFRESH,
            "certificate_number": codes.display(v.certificate_number) if done else None,
        },
    )


def _verification(number: str) -> Verification:
    """The finished verification whose certificate has this number (typed in any form)."""
    try:
        canonical = codes.normalize(number)
    except codes.CodeError:
        raise Http404("no such certificate") from None
    return get_object_or_404(
        Verification.objects.select_related("record__court"),
        certificate_number=canonical,
        status=Verification.Status.DONE,
    )


def _issued(request: HttpRequest, number: str) -> Certificate | HttpResponse:
    """The certificate, rendered now if it is not kept; a page saying why not when the
    ledger it is made from cannot be reached or this process is busy rendering others."""
    v = _verification(number)
    try:
        return certificate.issue(v)
    except (BackendUnavailable, certificate.Busy) as exc:
        busy = isinstance(exc, certificate.Busy)
        context = {"number": codes.display(v.certificate_number), "busy": busy}
        response = render(request, "verification/certificate_unavailable.html", context, status=503)
        response["Retry-After"] = "5" if busy else "30"
        return response


@require_safe
@rate_limited("pages")
def certificate_page(request: HttpRequest, number: str) -> HttpResponse:
    """/c/<number>: what the certificate says, its PDF and bundle, and a fresh check."""
    try:
        v = _verification(number)
    except Http404:
        return render(
            request, "verification/certificate_missing.html", {"number": number}, status=404
        )
    if codes.display(v.certificate_number) != number:
        return redirect("certificate-page", number=codes.display(v.certificate_number))
    kept = Certificate.objects.filter(verification=v).first()
    record = face_of(v.record) if v.record else None
    return render(
        request,
        "verification/certificate_page.html",
        {
            "certificate": kept,
            "development": kept.development if kept else signing.identity().development,
            "number": number,
            "v": v,
            "shown": v.outcome_now(ledger_agrees(v, record)),
            "steps": v.steps.all(),
            "record": record,
        },
    )


@require_safe
@rate_limited("downloads")
def certificate_pdf(request: HttpRequest, number: str) -> HttpResponseBase:
    """The signed certificate PDF, rendered on the first request."""
    cert = _issued(request, number)
    if isinstance(cert, HttpResponse):
        return cert
    return FileResponse(
        cert.pdf.open("rb"),
        as_attachment=True,
        filename=f"certificate-{codes.display(cert.number)}.pdf",
        content_type="application/pdf",
    )


@require_safe
@rate_limited("downloads")
def certificate_bundle(request: HttpRequest, number: str) -> HttpResponse:
    """The proof bundle on its own (the same bytes as the PDF's attachment)."""
    cert = _issued(request, number)
    if isinstance(cert, HttpResponse):
        return cert
    response = HttpResponse(cert.bundle.encode(), content_type="application/json; charset=utf-8")
    name = f"proof-bundle-{codes.display(cert.number)}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@rate_limited("verifications")
def certificate_reverify(request: HttpRequest, number: str) -> HttpResponse:
    """Check the same file or record again, now, against the current ledger."""
    v = _verification(number)
    again = intake.start(
        inline=True,
        sha256=v.sha256,
        sm3=v.sm3,
        size=v.size,
        filename=v.filename,
        code=v.code,
        source=v.source if v.source != Verification.Source.BATCH else Verification.Source.DIGEST,
    )
    return redirect("verification-page", verification_id=again.id)
