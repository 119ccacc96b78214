"""The one way views read a request body: JSON, an object, bounded in size (MAX_CONTENT_LENGTH),
in nesting (MAX_DEPTH) and in time (BODY_TIMEOUT), whatever Content-Type the tablet sent.
A body outside those bounds is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import json

import gevent
from flask import request

from appliance.errors import Invalid, Malformed, TooSlow

BODY_TIMEOUT = 10.0  # seconds for the whole body to arrive once the headers have
MAX_DEPTH = 32  # no request the box understands nests deeper than a few levels


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def raw_body(limit: int | None = None) -> bytes:
    """The request's body as bytes, within BODY_TIMEOUT; ``limit`` raises the app's size
    bound for this request (413 past it)."""
    if limit is not None:
        request.max_content_length = limit
    try:
        with gevent.Timeout(BODY_TIMEOUT):
            return request.get_data(cache=True)
    except gevent.Timeout:
        raise TooSlow(f"the body did not arrive within {BODY_TIMEOUT:.0f} s") from None


def json_body(required: bool = True) -> dict:
    """The request's JSON object; ``{}`` for an empty body when it is optional."""
    raw = raw_body()
    if not raw:
        if required:
            raise Invalid("a JSON body is required")
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise Malformed("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels")
    return data
