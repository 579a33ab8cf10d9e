"""The compact encoder of the VM routes answers the same JSON as ``json_response``, with the same headers."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from functions.api.http import SECURITY_HEADERS, documents_response, json_response

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON: values and types (an int is not a float), key order included."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6))
def test_the_same_json_as_json_response(body: dict[str, Any]) -> None:
    fast, reference = documents_response(body), json_response(body)
    assert same_json(json.loads(fast.get_body()), json.loads(reference.get_body()))
    assert (fast.status_code, fast.mimetype, fast.charset) == (reference.status_code, reference.mimetype, "utf-8")
    assert dict(fast.headers) == dict(reference.headers)
    assert SECURITY_HEADERS.items() <= dict(fast.headers).items()


def test_text_that_utf8_cannot_carry_is_escaped_as_json_response_does() -> None:
    body = {"items": [{"notes": "half a pair: \ud800"}], "continuation": None}
    assert documents_response(body).get_body() == json_response(body).get_body()
    assert json.loads(documents_response(body).get_body()) == body


def test_non_ascii_text_is_utf8() -> None:
    body = {"notes": "ü 漢字 \u2028"}
    raw = documents_response(body).get_body()
    assert json.loads(raw.decode("utf-8")) == body
