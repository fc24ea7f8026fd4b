"""What the OpenAPI schema (/api/schema/, shown at /api/docs/) says of the API as a whole:
its three audiences, as tags, and the shape of its errors. Chinese first, then English, in
one document, whatever the reader's language; the operations' own texts are on their views."""

LEDGER = "ledger"
COURTS = "courts"
VERIFICATION = "verification"

DESCRIPTION = """\
司法文书核验平台的 JSON 接口分为三部分，各面向一类使用者：

- **公开账本**（标签 `ledger`）：任何人无需登录即可读取司法账本的条目、包含证明与一致性证明、\
检查点、可信时间戳和区块链锚定，自行独立核对。
- **法院接口**（标签 `courts`）：供法院业务系统登记文件、记录送达事件、读取本院的记录。\
每个请求都须带上 `Authorization: Token <令牌>`；令牌只能访问本院的记录。
- **公开核验**（标签 `verification`）：任何人无需登录即可核验一个文件或摘要，或批量核验；\
按客户端限流。

所有错误的格式相同：

```json
{"error": {
  "code": "malformed_digest",
  "field": "sha256",
  "message": {"zh": "……", "en": "……"}}}
```

`code` 是稳定的机器代码，程序应据此判断，而不是依据说明文字；`message` 同时给出中文（`zh`）\
和英文（`en`）说明，与请求的语言无关；`field` 指出请求中出错的部分（如 `records.3.sha256`），\
仅在有时出现。`ledger_delayed` 还给出 `record_code` 或 `record_codes`。\
各接口可能返回的代码见其响应说明及项目文档 docs/api.md。

The JSON API of the judicial verification portal has three parts, each for its own users:

- **Public ledger** (tag `ledger`): anyone, without an account, reads the ledger's entries, \
inclusion and consistency proofs, checkpoints, trusted timestamps and chain anchors, to \
check them independently.
- **Court API** (tag `courts`): courts' systems record files, record service events and read \
their own records. Every request carries `Authorization: Token <token>`; a token reaches \
only its own court's records.
- **Public verification** (tag `verification`): anyone, without an account, verifies a file \
or a digest, or a batch of them; limited per client.

Every error has the same shape (above): `code` is a stable machine code, which programs \
branch on rather than on the text; `message` says it in Chinese (`zh`) and English (`en`), \
whatever the request's language; `field`, when present, names the part of the request at \
fault (such as `records.3.sha256`). `ledger_delayed` adds `record_code` or `record_codes`. \
The codes each operation may answer are given with its responses and in the project's \
docs/api.md.
"""

# Redoc shows a tag by its x-displayName; the name itself is the stable identifier.
TAGS = [
    {
        "name": LEDGER,
        "x-displayName": "公开账本 · Public ledger",
        "description": "司法账本的公开读取接口：条目、证明、检查点、可信时间戳和区块链锚定，"
        "无需登录，供任何人独立核对。\n\n"
        "The public read side of the ledger: entries, proofs, checkpoints, trusted "
        "timestamps and chain anchors, without an account, for anyone to check "
        "independently.",
    },
    {
        "name": COURTS,
        "x-displayName": "法院接口 · Court API",
        "description": "供法院业务系统使用：登记文件、记录送达事件、读取本院的记录。"
        "每个请求都须带上 `Authorization: Token <令牌>`。\n\n"
        "For courts' systems: record files, record service events, read the court's own "
        "records. Every request carries `Authorization: Token <token>`.",
    },
    {
        "name": VERIFICATION,
        "x-displayName": "公开核验 · Public verification",
        "description": "任何人无需登录即可核验文件或摘要（也可批量核验），并读取核验结果。\n\n"
        "Anyone, without an account, verifies a file or a digest (or a batch of them) and "
        "reads the result.",
    },
]
