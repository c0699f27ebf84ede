"""The toolkit's one error hierarchy.

Every error that a *user* can cause or fix (a bad argument, a malformed row, a server that is
down, a Hub login that is missing) is a :class:`ToolkitError`. The CLI prints those as one line
(plus a hint) and exits with :attr:`ToolkitError.exit_code`; anything else is a bug and shows
its traceback. ``TOOLKIT_DEBUG=1`` shows tracebacks for everything.

Each class also subclasses the builtin a caller would naturally catch (``ValueError`` for bad
input, ``ConnectionError`` for a model server, …), as ``huggingface_hub``'s errors do, so code
written against builtins keeps working.

Exit codes (documented in the README): ``0`` success, ``1`` failure, ``2`` usage error.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class ToolkitError(Exception):
    """Base class: a problem the user can act on. ``hint`` says how (one sentence)."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(ToolkitError, ValueError):
    """Wrong arguments or configuration: an unknown name, a bad value, options that conflict."""

    exit_code = EXIT_USAGE


class DataError(ToolkitError, ValueError):
    """Input data that cannot be used: names the file, row and field where known."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path, self.row, self.field, self.reason = path, row, field, reason
        where = ", ".join(
            part
            for part in (
                str(path) if path else None,
                f"line {row}" if row is not None and path else None,
                f"row {row}" if row is not None and not path else None,
                f"field {field!r}" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason, hint=hint)


class MissingError(ToolkitError, FileNotFoundError):
    """A file, dataset, model, benchmark or version that does not exist (or is not reachable)."""

    def __str__(self) -> str:  # FileNotFoundError would print "[Errno ...]" otherwise
        return self.message


class BackendError(ToolkitError, ConnectionError):
    """A model server or local model that failed a request.

    ``retryable``: worth another try (429, 5xx, timeouts, resets, malformed bodies); ``fatal``:
    no request of this run can succeed (bad key, unknown model), so stop at once;
    ``retry_after``: seconds the server asked us to wait; ``status``: the HTTP status, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        fatal: bool = False,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retryable = retryable
        self.fatal = fatal
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_status(
        cls, status: int, message: str, retry_after: float | None = None
    ) -> BackendError:
        """Classify an HTTP status the way OpenAI-compatible and Ollama servers use them."""
        hint = None
        if status in (401, 403):
            hint = "check the API key (the variable named by --api-key-env)"
        elif status == 404:
            hint = "check the model name and the base URL"
        return cls(
            f"HTTP {status}: {message}",
            status=status,
            retryable=status in (408, 409, 425, 429) or status >= 500,
            fatal=status in (401, 403, 404),
            retry_after=retry_after,
            hint=hint,
        )


class StoreError(ToolkitError, RuntimeError):
    """Pushing to or loading from a dataset/model store (the Hub or the local git store) failed."""


class EmptyOutputError(ToolkitError, RuntimeError):
    """A stage turned non-empty input into nothing (pass ``--allow-empty`` to accept that)."""


class IncompleteError(ToolkitError, RuntimeError):
    """The work finished only in part (some samples failed); re-running the command resumes."""

    def __init__(self, message: str, *, hint: str | None = None, result: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "BackendError",
    "DataError",
    "EmptyOutputError",
    "IncompleteError",
    "MissingError",
    "StoreError",
    "ToolkitError",
    "UsageError",
]
