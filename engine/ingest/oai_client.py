"""The polite OAI-PMH client for arXiv's bulk metadata (``https://oaipmh.arxiv.org/oai``).

Politeness, retries and ``Retry-After`` (OAI-PMH servers answer 503 with it for flow
control) are :class:`~engine.ingest.arxiv_client.PoliteClient`'s. A harvest asks once
with its set and dates, then follows resumption tokens alone::

    ?verb=ListRecords&metadataPrefix=arXiv&set=cs&from=2026-06-01&until=2026-06-20
    ?verb=ListRecords&resumptionToken=6873510%7C1001

An answer that is not a readable OAI-PMH page is retried; an OAI ``<error>`` other than
``noRecordsMatch`` (an empty harvest) is an :class:`~engine.errors.OaiPmhError` naming
its code and message, never retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import NoReturn
from urllib.parse import urlencode

from engine.errors import OaiPmhError, SyncError
from engine.ingest import oai_pmh
from engine.ingest.arxiv_client import PoliteClient, Retry

DEFAULT_OAI_URL = "https://oaipmh.arxiv.org/oai"
METADATA_PREFIX = "arXiv"
# A setSpec: OAI-PMH's unreserved characters, levels joined by ':' (cs, physics:astro-ph).
SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(?::[A-Za-z0-9\-_.!~*'()]+)*$")


@dataclass
class OaiPage:
    url: str
    body: bytes
    response: oai_pmh.Response


class OaiClient(PoliteClient):
    """Fetches the pages of a ``ListRecords`` harvest."""

    service = "the OAI-PMH server"
    url_option = "--oai-url"
    accept = "text/xml, application/xml"

    def first_url(self, set_spec: str, from_date: str | None = None, until: str | None = None) -> str:
        params = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX, "set": set_spec}
        params.update({k: v for k, v in (("from", from_date), ("until", until)) if v})
        return f"{self.base_url}?{urlencode(params)}"

    def next_url(self, token: str) -> str:
        return f"{self.base_url}?{urlencode({'verb': 'ListRecords', 'resumptionToken': token})}"

    def fetch(self, url: str) -> OaiPage:
        """One page (see :meth:`PoliteClient.get` for retries and errors).

        Raises:
            OaiPmhError: the server answered an OAI error (badResumptionToken, ...).
        """
        return self.get(url, self._page)

    def refuse(self, url: str, status: int, body: bytes, reason: str) -> NoReturn:
        response = oai_pmh.parse_response(body, url) if body else None
        if response is not None and response.error is not None:
            _raise(url, response.error, f"HTTP {status}, ")
        super().refuse(url, status, body, reason)

    def _page(self, url: str, body: bytes) -> OaiPage | Retry:
        response = oai_pmh.parse_response(body, url)
        if response.error is not None:
            _raise(url, response.error)
        if response.broken is not None:
            # A truncated body or a proxy's HTML page: usually gone on the next try.
            return Retry(f"not a readable OAI-PMH response ({response.broken})")
        return OaiPage(url, body, response)


def _raise(url: str, error: tuple[str, str], how: str = "") -> NoReturn:
    code, message = error
    raise OaiPmhError(f"{url}: the OAI-PMH server answered {how}error {code}: {message or '(no message)'}", code)


def check_harvest(set_spec: str, from_date: str | None, until: str | None) -> None:
    """Refuse a set or dates the server would refuse (badArgument), before any request."""
    if not SET_SPEC.match(set_spec or ""):
        raise SyncError(f"not an OAI-PMH set: {set_spec!r} (examples: cs, math, physics:astro-ph)")
    days = {}
    for option, value in (("--from", from_date), ("--until", until)):
        if value is None:
            continue
        try:
            if len(value) != 10:
                raise ValueError
            days[option] = date.fromisoformat(value)
        except ValueError:
            raise SyncError(f"{option} must be a date YYYY-MM-DD (OAI datestamps are days), not {value!r}") from None
    if len(days) == 2 and days["--from"] > days["--until"]:
        raise SyncError(f"--from {from_date} is after --until {until}")
