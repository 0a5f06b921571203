"""What the package writes itself because MicroPython lacks it (docs/runtimes.md), checked
against the standard library it replaces: ``reprlib`` (short_repr), ``email.utils`` (HTTP
dates), ``urllib.parse`` (campaign parameters), ``base64`` (JWT payloads)."""

from __future__ import annotations

import base64
import json
import reprlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from masivo_web.browser.context import campaign
from masivo_web.errors import short_repr
from masivo_web.rules.retry import http_date
from masivo_web.rules.token_state import read_token_expiry

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 40, 40
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 4

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=50), inner, max_size=6)
    ),
    max_leaves=20,
)


@given(values)
def test_short_repr_is_reprlibs(value: Any) -> None:
    assert short_repr(value) == _REPR.repr(value)


def test_short_repr_bounds_what_it_shows() -> None:
    assert short_repr("x" * 1000) == "'" + "x" * 17 + "..." + "x" * 18 + "'"
    assert short_repr(list(range(100))) == "[0, 1, 2, 3, ...]"
    assert short_repr([[[["deep"]]]]) == "[[[...]]]"
    assert short_repr(10**100) == "1" + "0" * 17 + "..." + "0" * 19


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)))
def test_http_dates_read_as_email_utils_reads_them(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    imf = format_datetime(moment, usegmt=True)  # Sun, 06 Nov 1994 08:49:37 GMT
    assert http_date(imf) == parsedate_to_datetime(imf).timestamp() == moment.timestamp()
    asctime = moment.strftime("%a %b ") + f"{moment.day:2d}" + moment.strftime(" %H:%M:%S %Y")
    assert http_date(asctime) == moment.timestamp()


def test_the_obsolete_http_date_forms_and_offsets() -> None:
    expected = 784111777.0
    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected
    assert http_date("Sun Nov  6 08:49:37 1994") == expected
    assert http_date("Sun, 06 Nov 1994 10:49:37 +0200") == expected
    for bad in ("", "soon", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:00:00 GMT"):
        assert http_date(bad) is None


@given(
    st.dictionaries(
        st.sampled_from(["utm_source", "utm_medium", "utm_campaign", "utm_term", "other"]),
        st.text(min_size=1, max_size=20),
    )
)
def test_campaign_reads_a_query_as_parse_qs_does(parameters: dict[str, str]) -> None:
    query = "?" + urlencode(parameters, quote_via=quote)
    parsed = parse_qs(query.lstrip("?"))
    names = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "name"}
    names["utm_term"] = "term"
    expected = {name: parsed[key][0] for key, name in names.items() if parsed.get(key)}
    assert campaign(query) == expected


def test_campaign_keeps_a_bad_escape_and_reads_plus_as_space() -> None:
    assert campaign("?utm_source=a+b%2&utm_medium=%E2%9C%93") == {"source": "a b%2", "medium": "✓"}


@given(st.integers(min_value=0, max_value=2**40))
def test_a_jwt_expiry_is_read_without_base64_urlsafe(exp: int) -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp, "s": "é?>"}).encode())
    token = "e30." + payload.decode().rstrip("=") + ".sig"
    assert read_token_expiry(token) == float(exp)
