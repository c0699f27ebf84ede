"""Secrets never leave memory: one scrubber for every path that writes or shows outside text.

A proxy or server that echoes request headers in its error body would otherwise carry an API
key into ``errors.jsonl``, a log line, an exception, ``results.json``, a card or the Space's
error notice. Every such path calls :func:`redact` on text that came from outside (server
bodies, exception messages) before storing or showing it.

What counts as a secret:

* the values of well-known token variables (``HF_TOKEN``, ``OPENAI_API_KEY``, …), read at the
  moment of redaction so a key set later is covered too;
* every variable a user named for a key (``--api-key-env MY_KEY``): :func:`register_env`;
* any value passed to :func:`register_secret` (a key given in code or a Space secret);
* patterns that are secrets whatever their source: ``Authorization: Bearer …`` headers, Hugging
  Face tokens (``hf_…``) and ``sk-…`` style API keys.

Values shorter than 6 characters are not treated as secrets (``EMPTY``, ``x``): replacing them
would garble ordinary text while protecting nothing.
"""

from __future__ import annotations

import logging
import os
import re
import threading

REDACTED = "***"
MIN_SECRET_LENGTH = 6

#: Variables whose values are always secrets.
SECRET_ENV_VARS = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACE_HUB_TOKEN",
    "OPENAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "TOGETHER_API_KEY",
    "TOOLKIT_SPACE_API_KEY",
    "WANDB_API_KEY",
)

_PATTERNS = (
    # "Authorization: Bearer abc", "authorization": "Bearer abc", Bearer abc
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{4,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{16,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
)

_lock = threading.Lock()
_values: set[str] = set()
_env_names: set[str] = set(SECRET_ENV_VARS)


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (ignored when empty or very short)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _values.add(value)


def register_env(name: str | None) -> None:
    """Treat the value of environment variable ``name`` as a secret (now and later)."""
    if name:
        with _lock:
            _env_names.add(name)


def _secrets() -> list[str]:
    with _lock:
        found = set(_values)
        names = tuple(_env_names)
    for name in names:
        value = os.environ.get(name)
        if value and len(value) >= MIN_SECRET_LENGTH:
            found.add(value)
    # Longest first: a secret that contains another is replaced whole.
    return sorted(found, key=len, reverse=True)


def redact(text: object) -> str:
    """``text`` as a string with every known secret and secret-shaped token replaced."""
    result = str(text) if text is not None else ""
    for secret in _secrets():
        if secret in result:
            result = result.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            result = pattern.sub(lambda m: m.group(1) + REDACTED, result)
        else:
            result = pattern.sub(REDACTED, result)
    return result


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs each record's final message (and its traceback text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Attach :class:`RedactingFilter` to every handler of ``logger`` (default: the root)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


__all__ = [
    "REDACTED",
    "SECRET_ENV_VARS",
    "RedactingFilter",
    "install_log_filter",
    "redact",
    "register_env",
    "register_secret",
]
