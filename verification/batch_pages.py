"""The batch page: many files checked at once (for lawyers), one table of outcomes, and
the batch as a PDF report and a CSV. Views only: verification/batch.py does the work.

Files come uploaded (hashed as they arrive, never kept) or, from the page's script,
hashed in the browser (only their digests sent); without JavaScript the form uploads.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from plumbing import body_limits, cpu_bound
from plumbing.body_limits import BodyLimit, UploadCap
from plumbing.page_limits import rate_limited
from verification import batch, batch_report, certificate, intake
from verification.views import UPLOAD_PROGRESS_HEADER

# Room for the form around the files: besides the multipart boundaries, each file hashed
# in the browser is a field of its name and digests (under 1 KiB).
FORM_ALLOWANCE = body_limits.FORM_ALLOWANCE + 1024 * 1024


def _limits() -> dict:
    return {
        "max_files": settings.VERIFY_BATCH_PAGE_MAX_FILES,
        "max_upload": settings.VERIFY_BATCH_PAGE_MAX_UPLOAD,
    }


def _form(request: HttpRequest, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    """The batch form, with what is wrong (beside the files and in a summary at the top);
    to the page's script, the errors as JSON so that its list of files stays."""
    if errors and request.headers.get(UPLOAD_PROGRESS_HEADER) == "1":
        return JsonResponse({"errors": errors}, status=status)
    context = {"errors": errors or [], **_limits(), "strings": _strings()}
    return render(request, "verification/batch.html", context, status=status)


def _strings() -> dict:
    """The texts the page's script shows, in the reader's language."""
    max_files, max_upload = settings.VERIFY_BATCH_PAGE_MAX_FILES, _size(_limits()["max_upload"])
    return {
        "tooMany": _too_many(max_files, "{count}"),
        "tooLarge": _too_large_text(max_upload),
        "empty": _("“{name}” is empty: it will not be checked."),
        "none": _("Choose at least one file."),
        "browser": _("On this device"),
        "upload": _("Upload"),
        "remove": _("Remove {name}"),
        "waiting": _("Waiting"),
        "hashing": _("Hashing {percent}%"),
        "hashed": _("Hashed"),
        "toUpload": _("To upload"),
        "failed": _("Could not hash it; choose Upload for it."),
        "sending": _("Sending: {done} / {total} ({percent}%)"),
        "checking": _("Sent; checking…"),
        "chosen": _("{count} files chosen"),
    }


def _size(n: int) -> str:
    return str(filesizeformat(n))


def _too_many(limit: int, count: int | str) -> str:
    return _("You chose {count} files; a batch takes at most {limit}. Split them.").format(
        count=count, limit=limit
    )


def _too_large_text(limit: str) -> str:
    return _(
        "The files to upload come to more than {limit}. Check the largest on this device "
        "instead (only their digests are sent), or split the batch."
    ).format(limit=limit)


@require_safe
@rate_limited("pages")
def batch_form(request: HttpRequest) -> HttpResponse:
    """/batch: choose or drop files, each hashed here or uploaded."""
    return _form(request)


def _refuse_too_large(request: HttpRequest) -> HttpResponse:
    return _form(request, [_too_large_text(_size(settings.VERIFY_BATCH_PAGE_MAX_UPLOAD))], 413)


class _CountFiles(FileUploadHandler):
    """Counts the files of a batch as they come; past the limit, it stops the upload (the
    rest of the body is read and dropped, unhashed) and the batch is refused."""

    chunk_size = 0  # none of its own

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit, self.count, self.too_many = limit, 0, False

    def new_file(self, *args, **kwargs) -> None:
        self.count += 1
        if self.count > self.limit:
            self.too_many = True
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt
@require_POST
@rate_limited("verification_batches")  # before the body is read
def batch_check(request: HttpRequest) -> HttpResponse:
    """POST /batch/check: start the batch's verifications, then its table."""
    limit = settings.VERIFY_BATCH_PAGE_MAX_FILES
    counter = _CountFiles(request, limit)
    request.upload_handlers = [
        UploadCap(request, settings.VERIFY_BATCH_PAGE_MAX_UPLOAD),
        counter,
        intake.DigestingUploadHandler(request),
    ]
    try:
        return _check(request, counter)
    except TooManyFilesSent:  # Django's own cap, DATA_UPLOAD_MAX_NUMBER_FILES
        return _form(request, [_too_many(limit, _("more than {limit}").format(limit=limit))], 400)


batch_check.body_limit = BodyLimit(  # type: ignore[attr-defined]
    lambda: settings.VERIFY_BATCH_PAGE_MAX_UPLOAD, _refuse_too_large, FORM_ALLOWANCE
)


@csrf_protect
def _check(request: HttpRequest, counter: _CountFiles) -> HttpResponse:
    limit = settings.VERIFY_BATCH_PAGE_MAX_FILES
    uploads = request.FILES.getlist("file")
    sent = request.POST.getlist("digest")
    if counter.too_many or len(uploads) + len(sent) > limit:
        count = len(uploads) + len(sent)
        shown = count if not counter.too_many else _("more than {limit}").format(limit=limit)
        return _form(request, [_too_many(limit, shown)], 400)
    problems, hashed = [], []
    for text in sent:
        try:
            hashed.append(batch.from_browser(text))
        except batch.Unreadable as exc:
            problems.append(
                _("The digests of “{name}” could not be read: it was not checked.").format(
                    name=exc.name
                )
                if exc.name
                else _("The digests of a file could not be read: it was not checked.")
            )
    digested = [f for f in uploads if isinstance(f, intake.DigestedFile)]
    assert len(digested) == len(uploads)  # intake's handler is the only one here
    files = []
    for given in batch.in_order(digested, hashed):
        if given.size == 0:
            problems.append(_("“{name}” is empty: it was not checked.").format(name=given.filename))
        else:
            files.append(given)
    if not files:
        return _form(request, problems or [_("Choose at least one file.")], 400)
    started = batch.start(files)
    for problem in problems:  # the others are checked; these are named above their table
        messages.warning(request, problem)
    target = reverse("batch-result", args=[started])
    if request.headers.get(UPLOAD_PROGRESS_HEADER) == "1":
        return JsonResponse({"location": target})
    return redirect(target)


def _report(request: HttpRequest, batch_id: str) -> batch_report.Report | None:
    return batch.report(batch_id, request.build_absolute_uri)


def _missing(request: HttpRequest) -> HttpResponse:
    return render(request, "verification/batch_missing.html", status=404)


@require_safe
@rate_limited("pages")
def batch_result(request: HttpRequest, batch_id: str) -> HttpResponse:
    """/batch/<batch>: a row per file with its outcome, refreshing while any is checked."""
    report = _report(request, batch_id)
    if report is None:
        return _missing(request)
    checking = report.count(batch_report.CHECKING)
    counts = [
        (o, batch_report.WORDS[o], report.count(o)) for o in batch_report.WORDS if report.count(o)
    ]
    return render(
        request,
        "verification/batch_result.html",
        {
            "report": report,
            "counts": counts,
            "summary": ngettext("%(count)d file", "%(count)d files", len(report.rows))
            % {"count": len(report.rows)},
            "refresh": settings.VERIFY_PAGE_REFRESH if checking else None,
        },
    )


@require_safe
@rate_limited("downloads")
def batch_csv(request: HttpRequest, batch_id: str) -> HttpResponse:
    """The table as CSV (UTF-8 with BOM; columns in batch_report.COLUMNS)."""
    report = _report(request, batch_id)
    if report is None:
        return _missing(request)
    response = HttpResponse(batch_report.csv_bytes(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch_id}.csv"'
    return response


@require_safe
@rate_limited("downloads")
def batch_pdf(request: HttpRequest, batch_id: str) -> HttpResponse:
    """The batch's report as a PDF, Chinese and English like the certificates."""
    report = _report(request, batch_id)
    if report is None:
        return _missing(request)
    pdf = cpu_bound.run(batch_report.pdf_bytes, report, certificate.fonts())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="batch-report-{batch_id}.pdf"'
    return response
