"""Mailing the digest to a real SMTP server on loopback (aiosmtpd), then reading what it
received with the ``email`` package; and every settings mistake named by file and field."""

from __future__ import annotations

import email
import email.policy
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from engine.daily.digest import render_html, render_text
from engine.daily.mailer import SmtpConfig, build_message, load_config, send
from engine.errors import MailError
from tests.daily.test_digest import HOSTILE_TITLE, empty_feed, realistic_feed

PASSWORD = "s3cret-Pa55"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class Logins:
    """An aiosmtpd authenticator that knows one user and records each attempt."""

    def __init__(self) -> None:
        self.attempts = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.attempts.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd then answers a refusal with its own 535 line.
        return AuthResult(success=auth_data.password.decode() == PASSWORD, handled=False)


@pytest.fixture()
def server():
    inbox, logins = Inbox(), Logins()
    # AUTH without TLS is allowed on this loopback test server only.
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=logins, auth_require_tls=False)
    controller.start()
    try:
        yield controller, inbox, logins
    finally:
        controller.stop()


def settings(tmp_path: Path, text: str, name: str = "mail.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def loopback_settings(tmp_path: Path, port: int, extra: str = "") -> Path:
    return settings(
        tmp_path,
        f"""
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "paperscope <digest@example.org>"
to = ["reader@example.org", "Second Reader <second@example.org>"]
timeout = 5
{extra}
""",
    )


def received(inbox: Inbox) -> email.message.EmailMessage:
    (envelope,) = inbox.envelopes
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_a_digest_arrives_with_both_parts(tmp_path, server):
    controller, inbox, _ = server
    config = load_config(loopback_settings(tmp_path, controller.port))
    feed = realistic_feed()
    feed["library"] = "Galaxien-Ströme"
    send(config, build_message(config, feed, render_html(feed), render_text(feed)))

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "digest@example.org"
    assert envelope.rcpt_tos == ["reader@example.org", "second@example.org"]
    message = received(inbox)
    assert message["Subject"] == "paperscope: 212 new papers for Galaxien-Ströme"
    assert message["From"] == "paperscope <digest@example.org>"
    assert message["To"] == "reader@example.org, Second Reader <second@example.org>"
    assert message["Message-ID"].endswith("@example.org>") and message["Date"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert text_part.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    # SMTP carries lines ending in CRLF.
    assert text_part.get_content().replace("\r\n", "\n") == render_text(feed)
    assert html_part.get_content().replace("\r\n", "\n") == render_html(feed)
    assert HOSTILE_TITLE in text_part.get_content()
    assert "&lt;script&gt;" in html_part.get_content()


def test_subject_template_takes_feed_fields(tmp_path, server):
    controller, inbox, _ = server
    path = loopback_settings(
        tmp_path, controller.port, 'subject = "{library}: {count} of {new} since {since} ({unread} unread)"'
    )
    config = load_config(path)
    feed = empty_feed()
    send(config, build_message(config, feed, render_html(feed), render_text(feed)))
    assert received(inbox)["Subject"] == "likes: 0 of 0 since 2026-06-15 (0 unread)"


def test_login_uses_the_password_from_the_environment(tmp_path, server, monkeypatch):
    controller, inbox, logins = server
    monkeypatch.setenv("PAPERSCOPE_TEST_SMTP_PASSWORD", PASSWORD)
    extra = 'username = "reader"\npassword_env = "PAPERSCOPE_TEST_SMTP_PASSWORD"'
    config = load_config(loopback_settings(tmp_path, controller.port, extra))
    assert PASSWORD not in repr(config)
    feed = realistic_feed()
    send(config, build_message(config, feed, render_html(feed), render_text(feed)))
    assert logins.attempts == [("reader", PASSWORD)]
    assert len(inbox.envelopes) == 1


def test_a_refused_login_names_the_server_but_not_the_password(tmp_path, server, monkeypatch):
    controller, inbox, _ = server
    monkeypatch.setenv("PAPERSCOPE_TEST_SMTP_PASSWORD", "wrong-" + PASSWORD)
    extra = 'username = "reader"\npassword_env = "PAPERSCOPE_TEST_SMTP_PASSWORD"'
    config = load_config(loopback_settings(tmp_path, controller.port, extra))
    feed = realistic_feed()
    with pytest.raises(MailError) as caught:
        send(config, build_message(config, feed, render_html(feed), render_text(feed)))
    assert f"127.0.0.1:{controller.port}" in str(caught.value) and "535" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert inbox.envelopes == []


def test_starttls_against_a_server_without_it_is_a_mail_error(tmp_path, server):
    controller, inbox, _ = server
    config = load_config(
        settings(
            tmp_path,
            f"""
[smtp]
host = "127.0.0.1"
port = {controller.port}
from = "digest@example.org"
to = "reader@example.org"
""",
        )
    )
    assert config.security == "starttls" and config.recipients == ("reader@example.org",)
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{controller.port}.*STARTTLS"):
        send(config, build_message(config, empty_feed(), "<p>x</p>", "x"))
    assert inbox.envelopes == []


def test_a_refused_connection_names_host_and_port():
    port = free_port()  # bound, then closed: nothing listens there
    config = SmtpConfig(
        host="127.0.0.1", port=port, security="none", sender="a@example.org", recipients=("b@example.org",), timeout=5
    )
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{port}.*refused"):
        send(config, build_message(config, empty_feed(), "<p>x</p>", "x"))


def test_defaults(tmp_path):
    config = load_config(
        settings(tmp_path, '[smtp]\nhost = "smtp.example.org"\nfrom = "a@example.org"\nto = "b@example.org"\n')
    )
    assert (config.port, config.security, config.timeout, config.username, config.password) == (
        587,
        "starttls",
        30.0,
        None,
        None,
    )
    assert config.subject == "paperscope: {new} new papers for {library}"


BASE = '[smtp]\nhost = "smtp.example.org"\nfrom = "a@example.org"\nto = "b@example.org"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[smtp]\nhost = \n", r"invalid TOML: .*line 2"),
        (BASE + 'password = "hunter2"\n', r"smtp\.password: .*password_env"),
        (BASE + "port = 70000\n", r"smtp\.port: must be an integer 1-65535"),
        (BASE + 'port = "587"\n', r"smtp\.port: must be an integer 1-65535"),
        (BASE + "port = true\n", r"smtp\.port: must be an integer"),
        (BASE + 'security = "tls"\n', r"smtp\.security: must be one of starttls, ssl, none"),
        (BASE + 'hots = "x"\n', r"smtp\.hots: unknown setting"),
        (BASE + "timeout = 0\n", r"smtp\.timeout"),
        (BASE + 'subject = "{library.__class__}"\n', r"smtp\.subject: unknown field"),
        (BASE + 'subject = "{oops"\n', r"smtp\.subject"),
        (BASE + 'username = "me"\n', r"smtp\.password_env: needed with smtp\.username"),
        (
            BASE + 'username = "me"\npassword_env = "PAPERSCOPE_SURELY_UNSET_VAR"\n',
            r"smtp\.password_env: .*PAPERSCOPE_SURELY_UNSET_VAR is not set",
        ),
        (
            BASE + 'username = "me"\npassword_env = "NOT A NAME"\n',
            r"smtp\.password_env: .*not an environment variable name",
        ),
        ('[smtp]\nfrom = "a@example.org"\nto = "b@example.org"\n', r"smtp\.host: missing"),
        ('[smtp]\nhost = "h"\nto = "b@example.org"\n', r"smtp\.from: missing"),
        ('[smtp]\nhost = "h"\nfrom = "a@example.org"\n', r"smtp\.to: missing"),
        (
            '[smtp]\nhost = "h"\nfrom = "nobody"\nto = "b@example.org"\n',
            r"smtp\.from: 'nobody' is not an e-mail address",
        ),
        ('[smtp]\nhost = "h"\nfrom = "a@example.org"\nto = []\n', r"smtp\.to: must be an address or a non-empty list"),
        (
            '[smtp]\nhost = "h"\nfrom = "a@example.org"\nto = ["b@example.org", 3]\n',
            r"smtp\.to: must be one e-mail address",
        ),
        ('[mail]\nhost = "h"\n', r"mail: unknown setting"),
        ('host = "h"\n', r"host: unknown setting"),
        ("", r"smtp: missing \[smtp\] table"),
    ],
)
def test_settings_errors_name_the_file_and_the_field(tmp_path, text, expected):
    path = settings(tmp_path, text)
    with pytest.raises(MailError, match=expected) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "hunter2" not in str(caught.value)


def test_a_missing_settings_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "mail.toml"
    with pytest.raises(MailError, match="cannot read the mail settings") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_a_password_over_plain_smtp_to_another_host_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERSCOPE_TEST_SMTP_PASSWORD", PASSWORD)
    path = settings(
        tmp_path, BASE + 'security = "none"\nusername = "me"\npassword_env = "PAPERSCOPE_TEST_SMTP_PASSWORD"\n'
    )
    with pytest.raises(MailError, match=r"smtp\.security: .*unencrypted"):
        load_config(path)
