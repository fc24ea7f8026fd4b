"""A database that is down or restarting answers 503 with the error body, never a 500."""

from django.db import InterfaceError, OperationalError

from plumbing.errors import api_exception_handler


def test_a_lost_database_answers_503_with_retry_after():
    for exc in (OperationalError("server closed the connection"), InterfaceError("closed")):
        response = api_exception_handler(exc, {})
        assert response is not None and response.status_code == 503
        assert response["Retry-After"] == "5"
        error = response.data["error"]
        assert error["code"] == "service_unavailable"
        assert "数据库" in error["message"]["zh"] and "database" in error["message"]["en"]
