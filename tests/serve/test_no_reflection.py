"""No endpoint reflects what a request sends into HTML: every GET operation of the
served OpenAPI schema is called with markup in each of its parameters, and every answer
is JSON (whose content type a browser never renders) or a fixed page that does not
contain the markup."""

from __future__ import annotations

import re

import httpx

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _calls(schema: dict) -> list[tuple[str, dict]]:
    """(path, query params) per GET operation, markup in every parameter."""
    calls = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        params = {p["name"]: PAYLOAD for p in get.get("parameters", []) if p["in"] == "query"}
        filled = re.sub(r"\{(\w+)(:path)?\}", lambda m: httpx.URL("/" + PAYLOAD).path[1:], path)
        calls.append((filled, params))
        if params:
            calls.append((filled, {}))  # the path parameter alone, the query left valid
    return calls


def test_no_endpoint_reflects_input_into_html(served_corpus: str) -> None:
    schema = httpx.get(f"{served_corpus}/openapi.json").json()
    calls = [*_calls(schema), ("/" + PAYLOAD, {}), ("/static/" + PAYLOAD, {}), ("/docs", {"q": PAYLOAD})]
    assert len(calls) > 8
    with httpx.Client(base_url=served_corpus, timeout=30) as http:
        for path, params in calls:
            answer = http.get(path, params=params)
            kind = answer.headers.get("content-type", "")
            assert answer.status_code < 500, (path, answer.status_code, answer.text[:200])
            assert answer.headers.get("x-content-type-options") == "nosniff"
            if "html" in kind:
                assert "<script>alert" not in answer.text and "onerror=alert" not in answer.text, path
            else:
                # JSON, the page's files, the map's typed arrays, exports and feeds: none is rendered as HTML
                plain = ("application/json", "text/javascript", "text/css", "image/", "application/atom+xml")
                plain += ("application/octet-stream",)
                exported = ("text/csv", "application/x-bibtex", "application/vnd.citationstyles.csl+json")
                assert kind.startswith(plain + exported), (path, kind)
