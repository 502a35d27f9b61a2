"""Mailing the digest over SMTP: optional, configured in a TOML file, never required.

A settings file looks like::

    [smtp]
    host = "smtp.example.org"
    port = 587                      # default 587
    security = "starttls"           # "starttls" (default) | "ssl" | "none"
    username = "me@example.org"     # optional: log in
    password_env = "PAPERSCOPE_SMTP_PASSWORD"   # the variable holding the password
    from = "paperscope <me@example.org>"
    to = ["me@example.org"]         # or one address as a string
    subject = "paperscope: {new} new papers for {library}"
    timeout = 30

The password itself never sits in the file (a ``password`` key is refused): secrets in
files end up in backups and repositories. Every problem is a :class:`MailError` that
names the file and the field; sending failures name ``host:port`` and the cause.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from engine.errors import MailError

DEFAULT_SUBJECT = "paperscope: {new} new papers for {library}"
SECURITY = ("starttls", "ssl", "none")
KEYS = ("host", "port", "security", "username", "password_env", "from", "to", "subject", "timeout")
SUBJECT_FIELDS = ("library", "new", "unread", "since", "newest", "method", "generated", "count")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send, as read by :func:`load_config` (``source`` is the file)."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # from the environment, never printed
    subject: str = DEFAULT_SUBJECT
    timeout: float = 30.0
    source: str = ""

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


# --- settings -----------------------------------------------------------------------


def load_config(path: str | Path) -> SmtpConfig:
    """The SMTP settings of a TOML file's ``[smtp]`` table (see the module doc)."""
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as error:
        raise MailError(f"{where}: cannot read the mail settings: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise MailError(f"{where}: the mail settings are not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        raise MailError(f"{where}: invalid TOML: {error}") from error
    unknown = sorted(set(data) - {"smtp"})
    if unknown:
        raise MailError(f"{where}: {unknown[0]}: unknown setting (the mail settings go in an [smtp] table)")
    table = data.get("smtp")
    if not isinstance(table, dict):
        raise MailError(f"{where}: smtp: missing [smtp] table")
    return _config_from(where, table)


def _config_from(where: str, table: Mapping[str, Any]) -> SmtpConfig:
    if "password" in table:
        raise MailError(
            f"{where}: smtp.password: passwords are not kept in the settings file; put it in an "
            "environment variable and name that variable with smtp.password_env"
        )
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise MailError(f"{where}: smtp.{unknown[0]}: unknown setting (known: {', '.join(KEYS)})")
    host = _text(where, table, "host", required=True)
    security = _text(where, table, "security") or "starttls"
    if security not in SECURITY:
        raise MailError(f"{where}: smtp.security: must be one of {', '.join(SECURITY)}, not {security!r}")
    username = _text(where, table, "username")
    password = _password(where, table, username)
    if password is not None and security == "none" and host not in _LOOPBACK:
        raise MailError(f'{where}: smtp.security: "none" would send the password unencrypted to {host}')
    return SmtpConfig(
        host=host,
        port=_port(where, table.get("port", 587)),
        security=security,
        username=username,
        password=password,
        sender=_address(where, "from", table.get("from")),
        recipients=_recipients(where, table.get("to")),
        subject=_subject(where, table.get("subject", DEFAULT_SUBJECT)),
        timeout=_timeout(where, table.get("timeout", 30)),
        source=where,
    )


def _text(where: str, table: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if value is None:
        raise MailError(f"{where}: smtp.{key}: missing (a non-empty string)")
    if not isinstance(value, str) or not value.strip():
        raise MailError(f"{where}: smtp.{key}: must be a non-empty string, not {value!r}")
    if "\r" in value or "\n" in value:
        raise MailError(f"{where}: smtp.{key}: must be one line")
    return value.strip()


def _port(where: str, value: object) -> int:
    # bool is an int to Python, but `port = true` is a mistake, not port 1.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise MailError(f"{where}: smtp.port: must be an integer 1-65535, not {value!r}")
    return value


def _timeout(where: str, value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 3600:
        raise MailError(f"{where}: smtp.timeout: must be a number of seconds above 0 (at most 3600), not {value!r}")
    return float(value)


def _password(where: str, table: Mapping[str, Any], username: str | None) -> str | None:
    name = _text(where, table, "password_env")
    if name is None:
        if username is not None:
            raise MailError(
                f"{where}: smtp.password_env: needed with smtp.username (the variable holding the password)"
            )
        return None
    if username is None:
        raise MailError(f"{where}: smtp.password_env: a password needs smtp.username to log in with")
    if not _ENV_NAME.fullmatch(name):
        raise MailError(f"{where}: smtp.password_env: {name!r} is not an environment variable name")
    password = os.environ.get(name)
    if not password:
        raise MailError(f"{where}: smtp.password_env: the environment variable {name} is not set (or empty)")
    return password


def _address(where: str, key: str, value: object) -> str:
    if value is None:
        raise MailError(f"{where}: smtp.{key}: missing; it must be an e-mail address")
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise MailError(f"{where}: smtp.{key}: must be one e-mail address as a string, not {value!r}")
    _, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise MailError(f"{where}: smtp.{key}: {value!r} is not an e-mail address")
    return value.strip()


def _recipients(where: str, value: object) -> tuple[str, ...]:
    if value is None:
        raise MailError(f"{where}: smtp.to: missing; it must be an address or a list of addresses")
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise MailError(f"{where}: smtp.to: must be an address or a non-empty list of addresses")
    return tuple(_address(where, "to", one) for one in values)


def _subject(where: str, value: object) -> str:
    """The subject template, checked now: a typo in a field should fail when the file is
    read, not when the digest is due. Fields are plain names (no ``{a.b}`` or ``{a[0]}``)."""
    if not isinstance(value, str) or not value.strip():
        raise MailError(f"{where}: smtp.subject: must be a non-empty string")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as error:
        raise MailError(f"{where}: smtp.subject: {error} (write {{{{ and }}}} for literal braces)") from error
    for name in fields:
        if name not in SUBJECT_FIELDS:
            raise MailError(f"{where}: smtp.subject: unknown field {{{name}}} (known: {', '.join(SUBJECT_FIELDS)})")
    return value


# --- the message --------------------------------------------------------------------


def subject_for(config: SmtpConfig, feed: Mapping[str, Any]) -> str:
    items = feed.get("items") or ()
    values = {name: feed.get(name, "") for name in SUBJECT_FIELDS}
    values["new"] = feed.get("new", len(items))
    values["count"] = len(items)
    try:
        subject = config.subject.format_map(values)
    except (ValueError, TypeError) as error:  # a format spec that does not fit the value ({library:d})
        raise MailError(f"{config.source}: smtp.subject: {error}") from error
    # Header lines cannot carry newlines; a field with one would break the mail.
    return " ".join(subject.split())


def build_message(config: SmtpConfig, feed: Mapping[str, Any], html: str, text: str) -> EmailMessage:
    """The digest as a multipart/alternative mail: the plain text first, then the HTML
    (clients show the last part they can render)."""
    message = EmailMessage()
    message["Subject"] = subject_for(config, feed)
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(localtime=True)
    # The sender's domain, so make_msgid does not look up this host's name (slow offline).
    domain = parseaddr(config.sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    # RFC 3834: machine-made mail, so vacation responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


# --- sending ------------------------------------------------------------------------


def _cause(error: Exception, config: SmtpConfig) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        detail = (
            error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        )
        cause = f"{error.smtp_code} {detail}"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        cause = "every recipient was refused: " + ", ".join(error.recipients)
    else:
        cause = str(error) or type(error).__name__
    if isinstance(error, smtplib.SMTPNotSupportedError) and config.security == "starttls":
        cause += ' (the server offers no STARTTLS: use security = "ssl", or "none" on a trusted network)'
    # Servers do not echo passwords, but a cause is shown to the user: make sure.
    return cause.replace(config.password, "***") if config.password else cause


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=ssl.create_default_context())
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Send ``message`` to the configured recipients; a failure is a :class:`MailError`
    naming ``host:port`` and the cause."""
    try:
        with _connect(config) as server:
            if config.security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if config.username is not None:
                server.login(config.username, config.password or "")
            recipients = [parseaddr(one)[1] for one in config.recipients]
            refused = server.send_message(message, from_addr=parseaddr(config.sender)[1], to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"sending mail via {config.address} failed: {_cause(error, config)}") from error
    if refused:
        raise MailError(f"mail sent via {config.address}, but these recipients were refused: {', '.join(refused)}")
