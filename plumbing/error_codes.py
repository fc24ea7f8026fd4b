"""Every error the JSON API answers: its stable code, HTTP status, and zh-Hans and en text.

The codes, statuses and the fields they name are a contract (docs/api.md lists each code
where it can occur): other systems branch on them, so a code is never renamed. The texts
are for people and may be reworded. A code may have more than one entry when the same
kind of refusal needs different words (`already_recorded` for an issued document and for
an addressee's event).

The messages of the public pages (a mistyped record code, an empty upload) and of the
ledger's plain-text read side are here too, as PageMessage: no code, only the two texts.

Texts are `str.format` templates; the raising site passes the values by name. An `en`
text is English only: a value shown in it must be ASCII (a field name, a number, a code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class ErrorText:
    """One error of the catalogue: code, status, and the message in both languages."""

    code: str
    zh: str
    en: str
    status: int = 400

    def message(self, **params: object) -> dict[str, str]:
        """The message with its placeholders filled: {"zh": ..., "en": ...}."""
        return {"zh": self.zh.format(**params), "en": self.en.format(**params)}


# Query parameters of the ledger API and the court API's list.
MISSING_PARAMETER = ErrorText(
    "missing_parameter", "缺少参数 {name}。", "The parameter '{name}' is required."
)
ONE_DIGEST_PARAMETER = ErrorText(
    "missing_parameter",
    "请提供 sha256 或 sm3 其中之一（仅一个）。",
    "Give exactly one of the parameters 'sha256' or 'sm3'.",
)
INVALID_INTEGER = ErrorText(
    "invalid_parameter",
    "参数 {name} 必须是不带前导零的非负整数。",
    "The parameter '{name}' must be a non-negative integer without leading zeros.",
)
INVALID_PAGE = ErrorText(
    "invalid_parameter",
    "页码须为 1 到 {high} 之间的整数。",
    "The page must be a whole number from 1 to {high}.",
)
INVALID_DATETIME = ErrorText(
    "invalid_parameter",
    "{name} 须为有效的 ISO 8601 时间（例如 2026-01-31T08:00:00+08:00）。",
    "{name} must be a valid ISO 8601 date-time, like 2026-01-31T08:00:00+08:00.",
)
OUT_OF_RANGE = ErrorText(
    "out_of_range",
    "参数 {name}={value} 超出范围，应在 {low} 到 {high} 之间。",
    "The parameter '{name}'={value} is out of range; it must be between {low} and {high}.",
)
MALFORMED_DIGEST = ErrorText(
    "malformed_digest",
    "{name} 摘要格式错误：应为 64 位十六进制字符。",
    "The {name} digest is malformed: it must be 64 hexadecimal characters.",
)
MALFORMED_RECORD_CODE = ErrorText(
    "malformed_record_code",
    "record_code 格式错误：应为核验码（字母和数字，不含连字符）。",
    "The record_code is malformed: give a record code in letters and digits, without dashes.",
)
LEDGER_NOT_READY = ErrorText(
    "ledger_not_ready", "账本尚未初始化。", "The ledger has no checkpoint yet.", 503
)
LEDGER_DAMAGED = ErrorText(
    "ledger_damaged",
    "账本缺少所需的数据，暂时无法给出证明。已通知运维人员，请稍后再试。",
    "The ledger is missing data this answer needs, so no proof can be given now. The "
    "operators have been alerted; try again later.",
    503,
)
NO_SUCH_CHECKPOINT = ErrorText(
    "no_such_checkpoint",
    "账本没有大小为 {size} 的检查点。",
    "The ledger signed no checkpoint of size {size}.",
    404,
)

# The court API.
SERVICE_UNAVAILABLE = ErrorText(
    "service_unavailable",
    "服务暂时不可用（数据库正在恢复），请稍后用相同的请求重试。",
    "The service is briefly unavailable (its database is recovering); retry the same "
    "request shortly.",
    503,
)
RECORD_NOT_FOUND = ErrorText(
    "record_not_found", "贵院没有该核验码的记录。", "Your court has no record with this code.", 404
)
NO_FILE = ErrorText(
    "no_file", "该记录没有保存文件。", "The portal keeps no file for this record.", 404
)
UNKNOWN_CATEGORY = ErrorText("invalid_choice", "类别无效。", "Unknown category.")
LEDGER_DELAYED = ErrorText(
    "ledger_delayed",
    "已登记（核验码 {code}），但账本暂未写入；稍后可用此核验码查询，无需重新提交。",
    "Recorded (code {code}) but not yet written to the ledger; look it up later by this "
    "code, do not submit it again.",
    503,
)
LEDGER_DELAYED_BATCH = ErrorText(
    "ledger_delayed",
    "已登记 {count} 条（核验码 {code} 等），但账本暂未写入；稍后可用这些核验码查询，无需重新提交。",
    "Recorded {count} records (codes {code} and {more} more) but not yet written to the "
    "ledger; look them up later by these codes, do not submit them again.",
    503,
)
LEDGER_ENTRY_ALTERED = ErrorText(
    "ledger_entry_altered",
    "核验码 {code} 在账本中的条目与本次提交的内容不一致，本平台不出具回执。"
    "已通知运维人员；请联系平台管理员，不要使用此核验码。",
    "The ledger entry for code {code} is not what this request submitted, so no receipt is "
    "given. The operators have been alerted; contact the portal's administrator and do not "
    "use this code.",
    500,
)
INVALID_ITEM = ErrorText(
    "invalid_item",
    "{name} 的每一项应为 JSON 对象。",
    "Each item of '{name}' must be a JSON object.",
)
MISSING_RECORDS = ErrorText(
    "missing_records",
    "请在 records 中列出要登记的记录。",
    "List the records to register in 'records'.",
)
TOO_MANY_RECORDS = ErrorText(
    "too_many_records", "一次最多登记 {limit} 条记录。", "At most {limit} records per batch."
)
EMPTY_FILE = ErrorText("empty_file", "文件为空。", "The file is empty.")
RECORD_FILE_TOO_LARGE = ErrorText(
    "file_too_large",
    "文件超过 {limit} MB 的上限，未予处理。",
    "The file is larger than the {limit} MB limit; it was not processed.",
    413,
)
MEDIA_TYPE_TOO_LONG = ErrorText(
    "too_long",
    "文件的类型（Content-Type）最多 {limit} 个字符。",
    "The file's media type (Content-Type) may have at most {limit} characters.",
)
AMBIGUOUS_CONTENT = ErrorText(
    "ambiguous_content",
    "请只提供文件或摘要其中之一。",
    "Send either the file or its digests, not both.",
)
MISSING_CONTENT = ErrorText(
    "missing_content",
    "请提供文件，或同时提供 sha256 和 sm3 摘要。",
    "Send the file, or both its sha256 and sm3 digests.",
)
STAMP_NEEDS_FILE = ErrorText(
    "stamp_needs_file",
    "加盖二维码需要上传 PDF 文件本身。",
    "Stamping needs the PDF itself, not its digests.",
)
NOT_A_PDF = ErrorText(
    "not_a_pdf", "要加盖二维码，文件必须是 PDF。", "The file must be a PDF to be stamped."
)
CANNOT_STAMP = ErrorText("cannot_stamp", "无法加盖二维码：{reason}", "Cannot stamp: {reason}")
PORTAL_ONLY = ErrorText(
    "portal_only",
    "“已查阅”和“已签收”由受送达人通过个人送达链接产生，法院不能代为记录。",
    "'opened' and 'acknowledged' are recorded by the portal when the addressee uses their "
    "personal service link; a court cannot record them.",
)
NOT_SERVED = ErrorText(
    "not_served",
    "只有诉讼文书才有送达记录。",
    "Only litigation documents are served; this record is not one.",
)
ALREADY_ISSUED = ErrorText(
    "already_recorded", "该文书已记录签发。", "This document is already issued."
)
ALREADY_RECORDED = ErrorText(
    "already_recorded", "该事件已记录。", "This event is already recorded."
)
SENT_BEFORE_ISSUED = ErrorText(
    "out_of_order",
    "请先记录签发，再记录送出。",
    "Record the document as issued before recording it as sent.",
)
ACKNOWLEDGED_BEFORE_OPENED = ErrorText(
    "out_of_order", "请先打开文书，再确认签收。", "Open the document before acknowledging receipt."
)
IMPLAUSIBLE_TIME = ErrorText(
    "implausible_time",
    "事件时间不能早于文书登记时间或晚于当前时间。",
    "The event time cannot be before the record was made or in the future.",
)
MISSING_CHANNEL = ErrorText(
    "invalid_choice", "请选择送达方式。", "Give the channel: platform, sms, email or post."
)
MISSING_ADDRESSEE = ErrorText("required", "请填写受送达人。", "Name the addressee.")
INVALID_IDEMPOTENCY_KEY = ErrorText(
    "invalid_idempotency_key",
    "Idempotency-Key 须为 1 到 {limit} 个字符。",
    "The Idempotency-Key must be 1 to {limit} characters.",
)
IDEMPOTENCY_KEY_REUSED = ErrorText(
    "idempotency_key_reused",
    "该 Idempotency-Key 已用于另一个不同的请求。",
    "This Idempotency-Key was already used for a different request.",
    422,
)
INVALID_CHARACTERS = ErrorText(
    "invalid_characters",
    "字段 {name} 的第 {position} 个字符是{kind_zh}（{code_point}）。记录字段不能含有控制字符、"
    "转义序列、双向文本控制符或其他不可见字符，以免显示的内容与登记的内容不同。",
    "The field '{name}' has {kind_en} ({code_point}) at character {position}. Record "
    "fields cannot hold control characters, escape sequences, bidirectional controls or "
    "other invisible characters, so that what is shown is what is recorded.",
)
REQUEST_IN_PROGRESS = ErrorText(
    "request_in_progress",
    "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试。",
    "The first request with this Idempotency-Key is still running; retry shortly.",
    409,
)

# Public verification.
MALFORMED_CODE = ErrorText(
    "malformed_code",
    "核验码格式不正确：{problem_zh}（共 18 位，例如 7K3M9Q-XD4RTW-2HVBPZ）。",
    "The record code is malformed ({problem_en}); it has 18 characters, like 7K3M9Q-XD4RTW-2HVBPZ.",
)
MISSING_DIGEST = ErrorText(
    "missing_digest",
    "请提供文件，或其 sha256 / sm3 摘要。",
    "Send the file, or its sha256 or sm3 digest.",
)
INVALID_FILE = ErrorText("invalid_file", "上传的文件无效。", "The upload is not a file.")
MISSING_FILE = ErrorText("missing_file", "请选择要核验的文件。", "Choose a file to verify.")
VERIFY_FILE_TOO_LARGE = ErrorText(
    "file_too_large",
    "文件超过 {limit} GiB 的上限，未被处理。可在浏览器中计算摘要后核验。",
    "The file is over the {limit} GiB limit and was not processed. Compute its digest in "
    "your browser instead.",
    413,
)
VERIFICATION_NOT_FOUND = ErrorText(
    "verification_not_found", "没有这个核验编号。", "There is no verification with this id.", 404
)
MISSING_ITEMS = ErrorText(
    "missing_items", "请在 items 中列出要核验的摘要。", "List the digests to verify in 'items'."
)
TOO_MANY_ITEMS = ErrorText(
    "too_many_items", "一次最多核验 {limit} 项。", "At most {limit} items per batch."
)
BATCH_NOT_FOUND = ErrorText(
    "batch_not_found", "没有这个批量核验编号。", "There is no batch with this id.", 404
)


class PageMessage(NamedTuple):
    """A message of the public pages (shown above the form), not an API error."""

    zh: str
    en: str

    def text(self, **params: object) -> str:
        """Both languages in one line, Chinese first."""
        return f"{self.zh.format(**params)} {self.en.format(**params)}"

    def in_language(self, language: str, **params: object) -> str:
        """The text in one language: Chinese for a `zh` language code, else English."""
        return (self.zh if language.startswith("zh") else self.en).format(**params)


# What is wrong with a typed or scanned record code (documents.codes.CodeProblem), shown
# on the pages and inside `malformed_code`.
CODE_PROBLEMS: dict[str, PageMessage] = {
    "length": PageMessage(
        "核验码应有 18 位字母或数字。", "A record code has 18 letters or digits."
    ),
    "character": PageMessage(
        "核验码中有无效字符。", "The record code contains a character it cannot have."
    ),
    "check": PageMessage(
        "核验码有一位抄错了：请逐位核对。",
        "One character of the code is mistyped: check it again.",
    ),
    "url": PageMessage(
        "这个二维码不是本平台的核验码。", "This QR code is not a record code of this portal."
    ),
    "no_qr": PageMessage(
        "照片中没有识别到二维码：请对准二维码、保持清晰后重拍。",
        "No QR code could be read in the picture: retake it closer and sharper.",
    ),
    "image": PageMessage(
        "无法读取这张图片，请上传 JPEG 或 PNG 照片。",
        "This picture cannot be read; upload a JPEG or PNG photo.",
    ),
    "pixels": PageMessage(
        "照片像素太多，无法读取：请靠近二维码重新拍摄，或缩小照片后再试。",
        "The photo is too large to read: take a closer photo of the QR code, or shrink "
        "the picture, and try again.",
    ),
}
CODE_PROBLEM_UNKNOWN = PageMessage("核验码无效。", "The record code is invalid.")

# The kinds of character `invalid_characters` names (plumbing.visible_text.Hidden).
HIDDEN_CHARACTERS: dict[str, PageMessage] = {
    "escape": PageMessage("终端转义序列的起始字符", "the start of a terminal escape sequence"),
    "control": PageMessage(
        "控制字符（如换行符、制表符）", "a control character (a line end, a tab)"
    ),
    "bidi": PageMessage("双向文本控制符", "a bidirectional text control"),
    "invisible": PageMessage("不可见的格式字符", "an invisible formatting character"),
    "surrogate": PageMessage("不成对的代理码元", "an unpaired surrogate code unit"),
}

# The intake forms of the public pages.
PAGE_FILE_TOO_LARGE = PageMessage(
    "文件超过 {limit} GiB 的上限。请改用“在浏览器中计算摘要”。",
    "The file is over the {limit} GiB limit; use the in-browser digest.",
)
PAGE_EMPTY_FILE = PageMessage("请选择一个非空的文件。", "Choose a file that is not empty.")
PAGE_NO_FILE = PageMessage("请选择要核验的文件。", "Choose a file to verify.")
# The error pages (everywhere but the API, which answers the catalogue's entries).
PAGE_BAD_REQUEST = PageMessage(
    "无法处理这个请求。请回到首页重新开始。",
    "This request cannot be processed. Start again from the home page.",
)
PAGE_FORBIDDEN = PageMessage("您无权查看这个页面。", "You are not allowed to see this page.")
PAGE_NOT_FOUND = PageMessage(
    "没有这个页面。请检查地址，或回到首页重新开始。",
    "There is no such page. Check the address, or start again from the home page.",
)
PAGE_NO_PHOTO = PageMessage("请选择一张照片。", "Choose a photo.")
PAGE_PHOTO_TOO_LARGE = PageMessage(
    "照片太大，请压缩后再试。", "The photo is too large; shrink it and retry."
)
PAGE_REQUEST_TOO_LARGE = PageMessage(
    "发送的内容超过 {limit} 字节的上限，未予处理。",
    "What was sent is over the {limit}-byte limit; it was not processed.",
)
PAGE_LENGTH_REQUIRED = PageMessage(
    "请求须带有 Content-Length：本平台不接收分块发送（chunked）的内容。",
    "The request must carry a Content-Length: the portal takes no body sent in chunks.",
)

# The ledger's plain-text read side (C2SP tlog-tiles): each answered as two lines.
TILES_NOT_READY = PageMessage("账本尚未初始化。", "The ledger has no checkpoint yet.")
TILE_PATH_INVALID = PageMessage("无效的瓦片路径。", "Invalid tile path: {reason}")
TILE_LEDGER_DAMAGED = PageMessage(
    "账本缺少生成该瓦片所需的数据，已通知运维人员，请稍后再试。",
    "The ledger is missing data this tile needs; the operators have been alerted. Try again later.",
)
TILE_NOT_YET = PageMessage("该瓦片尚不存在。", "This tile does not exist yet.")
READ_SIDE_THROTTLED = PageMessage(
    "请求过于频繁，请在 {seconds} 秒后再试。", "Too many requests; try again in {seconds} s."
)

# Field validation by DRF, by DRF's error code; {name} is the field's own name.
FIELD_ERRORS: dict[str, ErrorText] = {
    "required": ErrorText("required", "缺少必填字段 {name}。", "The field '{name}' is required."),
    "blank": ErrorText(
        "required", "字段 {name} 不能为空。", "The field '{name}' may not be blank."
    ),
    "null": ErrorText("null", "字段 {name} 不能为空。", "The field '{name}' may not be null."),
    "invalid_choice": ErrorText(
        "invalid_choice",
        "字段 {name} 的取值无效。",
        "The value of '{name}' is not a valid choice.",
    ),
    "max_length": ErrorText("too_long", "字段 {name} 过长。", "The field '{name}' is too long."),
    "max_string_length": ErrorText(
        "too_long", "字段 {name} 过长。", "The field '{name}' is too long."
    ),
    "too_long": ErrorText("too_long", "字段 {name} 过长。", "The field '{name}' is too long."),
    "empty": ErrorText("empty", "字段 {name} 为空。", "The field '{name}' is empty."),
    "invalid": ErrorText(
        "invalid", "字段 {name} 格式无效。", "The field '{name}' has an invalid format."
    ),
    "not_a_list": ErrorText(
        "not_a_list", "字段 {name} 应为列表。", "The field '{name}' must be a list."
    ),
    "no_name": ErrorText(
        "no_name", "上传的文件 {name} 没有文件名。", "The uploaded file '{name}' has no name."
    ),
}


def field_error(drf_code: str) -> ErrorText:
    """The catalogue entry for a DRF field validation code; DRF's code kept when unlisted."""
    found = FIELD_ERRORS.get(drf_code)
    if found is None:
        return ErrorText(drf_code, "字段 {name} 无效。", "The field '{name}' is invalid.")
    return found


# Requests refused before any view reads them: their size, shape or characters.
JSON_TOO_DEEP = ErrorText(
    "json_too_deep",
    "请求的 JSON 嵌套超过 {limit} 层，未予处理。",
    "The JSON body is nested more than {limit} levels deep; it was not processed.",
)
REQUEST_TOO_LARGE = ErrorText(
    "request_too_large",
    "请求内容（文件以外的部分）超过 {limit} 字节的上限，未予处理。",
    "The request body (apart from any files) is over the {limit}-byte limit; it was not processed.",
    413,
)
TOO_MANY_FIELDS = ErrorText(
    "too_many_fields",
    "请求的字段超过 {limit} 个，未予处理。",
    "The request has more than {limit} fields; it was not processed.",
)
TOO_MANY_FILES = ErrorText(
    "too_many_files",
    "一次上传的文件超过 {limit} 个，未予处理。",
    "More than {limit} files were sent at once; they were not processed.",
)
NUL_IN_ADDRESS = ErrorText(
    "invalid_characters",
    "请求的地址（路径或查询参数）含有空字符（NUL，%00），未予处理。",
    "The request's address (its path or query parameters) holds a NUL character (%00); "
    "it was not processed.",
)

# A body the portal cannot read: it comes in chunks, with no length (plumbing/body_limits.py).
LENGTH_REQUIRED = ErrorText(
    "length_required",
    "请求须带有 Content-Length：本平台不接收分块发送（chunked）的内容，未予处理。",
    "The request must carry a Content-Length: the portal takes no body sent in chunks; "
    "it was not processed.",
    411,
)

# DRF's own exceptions, by their default code (the status is DRF's).
DRF_ERRORS: dict[str, ErrorText] = {
    "not_found": ErrorText(
        "not_found", "未找到所请求的内容。", "The requested item was not found.", 404
    ),
    "method_not_allowed": ErrorText(
        "method_not_allowed", "不支持此请求方法。", "This HTTP method is not allowed here.", 405
    ),
    "not_acceptable": ErrorText(
        "not_acceptable", "无法以所请求的格式回复。", "Cannot answer in the requested format.", 406
    ),
    "unsupported_media_type": ErrorText(
        "unsupported_media_type", "不支持此内容类型。", "This content type is not supported.", 415
    ),
    "throttled": ErrorText(
        "throttled", "请求过于频繁，请稍后再试。", "Too many requests; please try again later.", 429
    ),
    "parse_error": ErrorText(
        "parse_error", "请求内容无法解析。", "The request body could not be parsed."
    ),
    "not_authenticated": ErrorText(
        "not_authenticated", "需要身份凭证。", "Authentication credentials are required.", 401
    ),
    "authentication_failed": ErrorText(
        "authentication_failed",
        "身份凭证无效。",
        "The authentication credentials are invalid.",
        401,
    ),
    "permission_denied": ErrorText(
        "permission_denied", "无权执行此操作。", "You are not allowed to do this.", 403
    ),
}
INVALID_REQUEST = ErrorText("invalid", "请求无效。", "Invalid request.")
SERVER_ERROR = ErrorText(
    "server_error",
    "本平台暂时无法完成这个请求，请稍后再试；问题持续时请联系平台管理员。",
    "The portal could not complete this request; try again later, and contact the "
    "portal's administrator if it persists.",
    500,
)


def catalogue() -> list[ErrorText]:
    """Every entry above: the named ones, the field errors and DRF's."""
    named = [value for value in globals().values() if isinstance(value, ErrorText)]
    return named + list(FIELD_ERRORS.values()) + list(DRF_ERRORS.values())
