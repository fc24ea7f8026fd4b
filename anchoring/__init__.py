"""The ledger: the court's tamper-evident transparency log and everything about its proofs.

In code, settings (`LEDGER_*`), URLs (`/ledger/`) and docs the thing is called the
ledger; `anchoring` is only the name of this Django app, kept because it names the
ledger's tables (`anchoring_entry`...) and Celery tasks (`anchoring.tasks.integrate`)
that operators grant and schedule. To anchor a file is to record a plain `anchor` entry
(`manage.py anchor`). This package imports no other app of the project and not
`portal` (an import-linter contract in pyproject.toml keeps it so).
"""
