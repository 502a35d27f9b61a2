"""The feed through the real CLI: what is new after ``add`` of a new day, since the last
visit or a window, read marks and follows; the ranker measured per library on the
300-paper corpus; the digest written and mailed to a real SMTP server; exports parsed
back."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import subprocess
import sys
from html import escape
from pathlib import Path

import bibtexparser
import pytest

from engine.daily.feed import build_feed, resolve_since
from engine.errors import QueryError
from engine.library.store import LibraryStore
from engine.pipeline.build import Options, build
from engine.query.feed import RANKERS
from engine.text import snippet
from tests.conftest import GA_DIGEST_1, GA_DIGEST_2

EXE = str(Path(sys.executable).with_name("paperscope"))
LIKED = ["2606.14671", "2606.14643", "2606.14477"]  # in GA_DIGEST_1 (15 June)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    if check:
        assert done.returncode == 0, done.stderr
    return done


def feed_json(index: Path, *args: str) -> dict:
    return json.loads(run("feed", "--index", str(index), "--json", *args).stdout)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The ids of each day's listing, read as the index reads them."""
    from engine.ingest.sources import read_papers

    return {day: {p.id for p in read_papers(path).papers} for day, path in (("15", GA_DIGEST_1), ("19", GA_DIGEST_2))}


def test_the_feed_after_a_new_day_is_added(tmp_path: Path, days: dict) -> None:
    index = tmp_path / "ga"
    build([GA_DIGEST_1], index, Options(backend="static", progress=False))
    run("library", "add", *LIKED, "--index", str(index))

    first = feed_json(index)  # a first visit: the week up to the newest paper
    assert (first["since"], first["newest"]) == ("2026-06-09", "2026-06-15")
    ids = [item["id"] for item in first["items"]]
    assert set(ids) == days["15"] - set(LIKED) and first["new"] == len(days["15"])
    assert first["method"] == "fused" and "under 5 likes" in first["method_reason"]
    scores = [item["score"] for item in first["items"]]
    assert scores == sorted(scores, reverse=True)
    for item in first["items"]:
        assert item["why"].startswith("close to \u201c") and item["because"]["like"] in LIKED
        passage = item["snippet"]["text"].strip("…")
        assert passage and passage in " ".join(item["abstract"].split())
        assert item["relevance"] == round(item["because"]["similarity"], 3)
        assert item["topic"] and item["read"] is False
    # the snippets mark the words each paper shares with the liked one it is close to
    assert any(item["snippet"]["marks"] for item in first["items"])
    run("library", "read", ids[0], ids[1], "--index", str(index))

    run("add", str(GA_DIGEST_2), "--index", str(index))
    second = feed_json(index)  # since the last visit: its newest day on, minus what was read
    assert (second["since"], second["newest"]) == ("2026-06-15", "2026-06-19")
    assert {item["id"] for item in second["items"]} == (days["15"] | days["19"]) - set(LIKED) - set(ids[:2])
    newest = feed_json(index, "--since", "1d")
    assert {item["id"] for item in newest["items"]} == days["19"]
    assert {item["id"] for item in feed_json(index, "--since", "1d", "--all")["items"]} == days["19"]
    with_read = feed_json(index, "--since", "2026-06-15", "--all")
    assert {i["id"] for i in with_read["items"] if i["read"]} == set(ids[:2])

    # follows: a category no paper has empties the feed; a topic keeps to its papers
    run("library", "follow", "--category", "cs.", "--index", str(index))
    assert feed_json(index, "--since", "7d")["items"] == []
    run("library", "unfollow", "--category", "cs.", "--index", str(index))
    topic = newest["items"][0]["topic"]["id"]
    run("library", "follow", "--topic", str(topic), "--index", str(index))
    followed = feed_json(index, "--since", "7d")
    assert followed["items"] and {i["topic"]["id"] for i in followed["items"]} == {topic}
    assert all("in your topic" in i["why"] for i in followed["items"])
    assert run("library", "follow", "--topic", "999", "--index", str(index), check=False).returncode == 2

    printed = run("feed", "--index", str(index), "--since", "7d", "-k", "3", "--mark-read").stdout
    assert "unread of" in printed and "close to" in printed
    assert len(LibraryStore.for_index(index).read_ids("likes")) == 5


def test_digest_files_and_mail(tmp_path: Path, days: dict) -> None:
    from aiosmtpd.controller import Controller

    from engine.serve.server import free_port

    index = tmp_path / "ga"
    build([GA_DIGEST_1, GA_DIGEST_2], index, Options(backend="static", progress=False))
    run("library", "add", *LIKED, "--index", str(index))
    html_file, md_file = tmp_path / "out" / "digest.html", tmp_path / "digest.md"
    run("digest", "--index", str(index), "--since", "1d", "--out", str(html_file))
    run("digest", "--index", str(index), "--since", "1d", "--out", str(md_file), "--base-url", "http://127.0.0.1:8000")
    titles = [p.title for p in _papers(index) if p.id in days["19"]]
    html, markdown = html_file.read_text(), md_file.read_text()
    assert all(f"https://arxiv.org/abs/{pid}" in html for pid in days["19"])
    assert all(escape(title) in html for title in titles) and len(titles) == len(days["19"])
    assert all(f"http://127.0.0.1:8000/?paper={pid}" in markdown for pid in days["19"])
    assert "<script" not in html and "http://" not in html  # self-contained: nothing fetched
    bad = run("digest", "--index", str(index), "--out", str(tmp_path / "digest.pdf"), check=False)
    assert bad.returncode == 2 and "digest.pdf" in bad.stderr

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
            self.messages.append(envelope.content)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = tmp_path / "mail.toml"
        settings.write_text(
            f'[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\n'
            'from = "paperscope@example.org"\nto = ["reader@example.org"]\n'
        )
        run("digest", "--index", str(index), "--since", "1d", "--out", str(html_file), "--mail", str(settings))
    finally:
        controller.stop()
    [raw] = inbox.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "reader@example.org" and "likes" in message["Subject"]
    body = message.get_body(("html",)).get_content()
    assert all(f"https://arxiv.org/abs/{pid}" in body for pid in days["19"])


def _papers(index: Path):
    import engine

    with engine.open(index) as ix:
        return [ix.paper(pid) for pid in ix.ids()]


def test_exports_from_the_cli_parse_back(tmp_path: Path, corpus_index: Path) -> None:
    import engine

    with engine.open(corpus_index) as ix:
        liked = ix.ids()[:4]
        topic = ix.topic_of(liked[0])["id"]
        members = ix.topic_members(topic)
        expected = {pid: ix.paper(pid) for pid in ix.ids()}
    # the session's index is shared: this test's library has its own name and goes after
    store, name = LibraryStore.for_index(corpus_index), f"export-{os.getpid()}"
    store.mark(name, [(pid, expected[pid].title) for pid in liked], "like")
    store.mark(name, [("2101.00001", "A paper that left the index")], "like")
    try:
        out = tmp_path / f"{name}.bib"
        run("export", "--library", name, "--index", str(corpus_index), "--out", str(out))
        parsed = bibtexparser.loads(out.read_text()).entries
    finally:
        store.delete(name)
    assert {e["eprint"] for e in parsed} == {*liked, "2101.00001"}
    for entry in parsed:
        assert entry["archiveprefix"] == "arXiv"
        if entry["eprint"] in expected:
            assert entry["primaryclass"] == expected[entry["eprint"]].primary_category

    table = run("export", "--topic", str(topic), "-f", "csv", "--index", str(corpus_index)).stdout
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["id"] for r in rows] == members
    csl = json.loads(run("export", *liked[:2], "-f", "csl-json", "--index", str(corpus_index)).stdout)
    assert [c["id"] for c in csl] == liked[:2] and all(c["title"] == expected[c["id"]].title for c in csl)
    searched = run("export", "--search", "galaxy rotation curves", "-k", "5", "--index", str(corpus_index)).stdout
    assert len(bibtexparser.loads(searched).entries) == 5
    two = run("export", liked[0], "--topic", str(topic), "--index", str(corpus_index), check=False)
    assert two.returncode == 2 and "exactly one of" in two.stderr


def test_the_ranker_follows_the_library_s_size_or_is_measured_and_kept(tmp_path: Path, corpus_index: Path) -> None:
    import engine

    store = LibraryStore(tmp_path / "library.sqlite")
    with engine.open(corpus_index) as ix:
        papers = [ix.paper(pid) for pid in ix.ids()]
        language = [p.id for p in papers if p.primary_category == "cs.CL"]
        store.mark("nlp", [(pid, "") for pid in language[:4]], "like")
        small = build_feed(ix, store, "nlp", since="2000", k=20)
        assert small["method"] == "fused" and "under 5 likes" in small["method_reason"]
        store.mark("nlp", [(pid, "") for pid in language[4:8]], "like")
        large = build_feed(ix, store, "nlp", since="2000", k=20)
        assert large["method"] == "svm" and "from 5 likes" in large["method_reason"]
        for answer in (small, large):
            top = [item["primary_category"] for item in answer["items"][:10]]
            assert top.count("cs.CL") >= 8, top  # a language library's feed is language papers

        measured = build_feed(ix, store, "nlp", since="2000", k=20, method="measured")
        assert measured["method"] in RANKERS and "5 folds" in measured["method_reason"]
        assert store.choice("nlp", _key(ix, store)) == (measured["method"], measured["method_reason"])
        again = build_feed(ix, store, "nlp", since="2000", k=20, method="measured")  # kept, not measured again
        assert again["method_reason"] == measured["method_reason"]
        fixed = build_feed(ix, store, "nlp", since="2000", k=20, method="rocchio")
        assert (fixed["method"], fixed["method_reason"]) == ("rocchio", "rocchio (as asked)")


def _key(ix, store: LibraryStore) -> str:
    from engine.query.feed import choice_key

    like, unlike = store.verdicts("nlp")
    return choice_key(ix.path.name, like, unlike)


def test_windows_and_snippets() -> None:
    assert resolve_since("7d", "2026-06-19", None) == "2026-06-13"
    assert resolve_since("1d", "2026-06-19", "2026-06-01") == "2026-06-19"
    assert resolve_since(None, "2026-06-19", "2026-06-16") == "2026-06-16"
    assert resolve_since("last", "2026-06-19", None) == "2026-06-13"
    assert resolve_since("2026-06", "2026-06-19", None) == "2026-06-01"
    for bad in ("0d", "yesterday", "2026-13", "7 d"):
        with pytest.raises(QueryError, match="since"):
            resolve_since(bad, "2026-06-19", None)
    text = "word " * 100
    assert snippet(text).endswith("…") and len(snippet(text)) <= 301
    assert snippet("Short abstract.") == "Short abstract."


def test_a_feed_ranked_by_svm_uses_the_model_fitted_ahead(
    tmp_path: Path, corpus_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server fits a library's SVM when its likes change (prepare_feed); the feed
    then ranks with that model, the same margins as a fresh fit, without fitting again."""
    import engine
    from engine.query import recommend

    store = LibraryStore(tmp_path / "library.sqlite")
    with engine.open(corpus_index) as ix:
        language = [pid for pid in ix.ids() if ix.paper(pid).primary_category == "cs.CL"]
        store.mark("ahead", [(pid, "") for pid in language[:6]], "like")
        fresh = build_feed(ix, store, "ahead", since="2000", k=20)  # fits (or finds a model) itself
        recommend._fitted.clear()
        fits = []
        real_fit = recommend._fit_svm
        monkeypatch.setattr(recommend, "_fit_svm", lambda *args: fits.append(1) or real_fit(*args))
        ix.prepare_feed(*store.verdicts("ahead"))
        assert fits == [1]
        ahead = build_feed(ix, store, "ahead", since="2000", k=20)
        assert fits == [1]  # not fitted again
        assert ahead["method"] == "svm"
        assert [(i["id"], i["score"]) for i in ahead["items"]] == [(i["id"], i["score"]) for i in fresh["items"]]
        store.mark("ahead", [(language[6], "")], "like")  # new likes: a new model
        build_feed(ix, store, "ahead", since="2000", k=20)
        assert fits == [1, 1]
