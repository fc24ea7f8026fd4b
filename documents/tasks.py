"""Celery tasks of the court side: the periodic ledger_fsck of production deployments."""

from celery import shared_task

from documents import fsck


@shared_task(ignore_result=True)
def ledger_fsck() -> int:
    """Re-derive everything from the ledger's entries; every discrepancy raises an alarm
    and the run's result shows on /health. Returns the command's exit code."""
    return fsck.run_and_keep().exit_code
