"""Every error is JSON naming the problem. A client's mistake is a 4xx, never a 500; Redis
being away is a 503 the tablet retries, never a silent loss."""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from appliance.errors import ServiceError, StorageFull
from appliance.store import card

log = logging.getLogger(__name__)


def error(status: int, code: str, message: str, /, **details: object):
    response = jsonify({"error": code, "message": message, **details})
    response.status_code = status
    return response


def _where(location: tuple) -> str:
    return ".".join(str(part) for part in location if part not in ("function-after", "function-before"))


def validation_problems(exc: ValidationError) -> list[dict]:
    problems = []
    for item in exc.errors(include_url=False, include_input=False):
        location = tuple(p for p in item["loc"] if not str(p).startswith(("function-", "tagged-union")))
        problems.append({"at": _where(location) or "body", "problem": item["msg"].removeprefix("Value error, ")})
    return problems


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service(exc: ServiceError):
        response = error(exc.status, exc.code, exc.message, **exc.details)
        if "retry_after" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        problems = validation_problems(exc)
        summary = "; ".join(f"{p['at']}: {p['problem']}" for p in problems[:3])
        return error(422, "invalid", summary, problems=problems)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        messages = {413: f"body larger than {request.max_content_length} bytes"}
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error(exc.code or 500, code, messages.get(exc.code or 0, exc.description or code))
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    @app.errorhandler(redis.ResponseError)
    def _storage(exc: Exception):
        if card.full(app.extensions["settings"]) or card.says_full(exc):
            log.error("storage full: %s", exc)
            return _service(StorageFull(card.FULL_MESSAGE))
        if isinstance(exc, redis.ResponseError):
            return _bug(exc)
        log.warning("Redis unavailable: %s", exc)
        response = error(503, "unavailable", "the box's storage is restarting; retry in a moment "
                                             "(a job or a push sent again with the same id is never stored twice)")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        log.error("unhandled error", exc_info=exc)
        return error(500, "internal", "internal error; nothing was accepted")
