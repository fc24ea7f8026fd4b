"""The court token cache under concurrency: an expired entry is read once, not by all."""

import threading

import pytest
from django.db import connection

from documents import auth
from documents.models import Court, CourtToken, token_digest

pytestmark = pytest.mark.django_db(transaction=True)


def test_requests_that_miss_the_cache_together_read_the_token_once(settings):
    settings.COURT_TOKEN_CACHE_SECONDS = 60
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    row, token = CourtToken.issue(court, "case system")
    auth.forget()  # as if its cache entry had just expired
    reads, found = [], []
    start = threading.Barrier(20)

    def count_reads(execute, sql, params, many, context):
        if '"documents_courttoken"' in sql and sql.lstrip().startswith("SELECT"):
            reads.append(sql)
        return execute(sql, params, many, context)

    def request():
        with connection.execute_wrapper(count_reads):
            start.wait()
            found.append(auth._look_up(token_digest(token)))
        connection.close()

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert [t.pk for t in found] == [row.pk] * 20
    assert len(reads) == 1, reads
