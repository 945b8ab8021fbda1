"""fastpaths.loads must give exactly what json.loads gives, for any JSON eventlab may have stored."""

from __future__ import annotations

import json
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from eventlab.core import fastpaths


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=600)
@given(values, st.booleans())
def test_any_value_parses_as_json_parses_it(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert same(fastpaths.loads(text), json.loads(text))


number_texts = st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=600)
@given(st.lists(number_texts, min_size=1, max_size=5))
def test_numbers_of_any_length_parse_as_json_parses_them(numbers):
    text = ("[" + ",".join(numbers) + "]").encode()
    assert same(fastpaths.loads(text), json.loads(text))


def test_what_orjson_would_change_or_refuse_goes_to_json():
    for text in [b"[123456789012345678901234567890]", b"[-9223372036854775809]", b"[NaN]",
                 b'["\\ud800"]', b"[1e400]"]:
        assert same(fastpaths.loads(text), json.loads(text)), text[:40]
