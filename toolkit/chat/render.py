"""Model output → Markdown that the chat can show to a visitor safely, and back.

Model output is untrusted: a prompt injection can make a model write ``<img src=…>`` or a
Markdown image whose URL carries the conversation to an attacker, and the visitor's browser
would fetch it the moment the message renders. Gradio's sanitizer keeps ``<b>`` and remote
``<img>``, so the text is made inert here, before it reaches the browser:

* HTML is escaped (``<`` → ``&lt;``, ``&`` → ``&amp;``) outside code, so a tag shows as the
  text the model wrote; inside code spans and fences Markdown already shows ``<`` literally.
* Markdown images are removed (``*(image not shown: alt)*``) unless their ``https`` host is in
  the operator's allow-list (``TOOLKIT_SPACE_IMAGE_HOSTS``); any other ``![`` is defused.
  Links stay links: they need a click, images fetch on their own.
* A bare ``\\boxed{…}`` outside ``$…$`` gets ``$…$`` so KaTeX renders it (R1 models box their
  final answer without math delimiters).

:func:`to_display` is applied to every piece of model text the chat shows; :func:`from_display`
reverses the escaping for the history sent back to the model, so a model that wrote ``a < b``
is not told it wrote ``a &lt; b`` (a boxed answer keeps its added ``$…$``: same LaTeX).
Both are linear in the text length. Indented (four-space) code blocks are not detected: a
``<`` there would show as ``&lt;``; models fence their code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
#: An inline Markdown image ``![alt](url "title")``; bounded pieces, no nested quantifiers.
_IMAGE = re.compile(
    r'!\[([^\[\]\n]{0,1000})\]\(\s*<?([^\s()<>]{0,2000})>?(?:\s+"[^"\n]{0,500}")?\s*\)'
)
#: More ``\\boxed{`` than this in one text is a degenerate loop, not an answer: left as is.
_MAX_BOXED = 100
#: Math delimiters (escaped dollars first, so ``\$`` is not a delimiter) and ``\boxed{``.
_MATH_TOKEN = re.compile(r"\\\$|\$\$|\$|\\\[|\\\]|\\\(|\\\)|\\boxed\{")
_CLOSERS = {"$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)


def segments(text: str) -> list[tuple[bool, str]]:
    """``text`` as ``(is_code, piece)`` runs: fenced blocks and inline code spans are code."""
    pieces: list[tuple[bool, str]] = []
    position = 0  # start of the prose not yet split
    fence: str | None = None
    block_start = 0
    for line in _FENCE_LINE.finditer(text):
        marker = line.group(1)
        if fence is None:
            pieces.extend(_inline_code(text[position : line.start()]))
            fence, block_start = marker, line.start()
        elif _closes(line.group(0), fence):
            end = min(len(text), line.end() + 1)  # the closing line and its newline
            pieces.append((True, text[block_start:end]))
            fence, position = None, end
    if fence is not None:  # an unclosed fence runs to the end, as in CommonMark
        pieces.append((True, text[block_start:]))
    else:
        pieces.extend(_inline_code(text[position:]))
    return [(code, piece) for code, piece in pieces if piece]


def _closes(line: str, fence: str) -> bool:
    """A closing fence: the same character, at least as long, nothing else on the line."""
    closing = _FENCE.match(line)
    return bool(
        closing
        and closing.group(1)[0] == fence[0]
        and len(closing.group(1)) >= len(fence)
        and not line.strip().strip(fence[0])
    )


def _inline_code(text: str) -> list[tuple[bool, str]]:
    """Split prose at code spans: a run of N backticks up to the next run of exactly N."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    if len(runs) < 2:
        return [(False, text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    cursor = {length: 0 for length in by_length}
    pieces: list[tuple[bool, str]] = []
    position = 0
    index = 0
    while index < len(runs):
        start, end = runs[index]
        length = end - start
        candidates = by_length[length]
        # The next run of the same length after this one (a pointer that only moves forward).
        while cursor[length] < len(candidates) and candidates[cursor[length]] <= index:
            cursor[length] += 1
        if cursor[length] >= len(candidates):
            index += 1
            continue
        closing = candidates[cursor[length]]
        pieces.append((False, text[position:start]))
        pieces.append((True, text[start : runs[closing][1]]))
        position = runs[closing][1]
        index = closing + 1
    pieces.append((False, text[position:]))
    return pieces


def _allowed(url: str, hosts: frozenset[str]) -> bool:
    if not hosts:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "").lower() in hosts


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _defuse(prose: str, hosts: frozenset[str]) -> str:
    """Escape HTML and remove images in a prose piece (string methods do the bulk: C speed)."""
    if "![" not in prose:
        return _escape(prose)
    out: list[str] = []
    position = 0
    for match in _IMAGE.finditer(prose):
        out.append(_escape(prose[position : match.start()]).replace("![", "!&#91;"))
        if _allowed(match.group(2), hosts):
            out.append("![" + _escape(match.group(0)[2:]))
        else:
            out.append(f"*(image not shown: {_escape(match.group(1).strip()) or 'image'})*")
        position = match.end()
    out.append(_escape(prose[position:]).replace("![", "!&#91;"))
    return "".join(out)


def _box_math(prose: str) -> str:
    """Wrap each ``\\boxed{…}`` that is outside math in ``$…$`` (braces balanced)."""
    if "\\boxed{" not in prose or prose.count("\\boxed{") > _MAX_BOXED:
        return prose
    closing = _matching_braces(prose)
    out: list[str] = []
    position = 0
    closer: str | None = None
    for match in _MATH_TOKEN.finditer(prose):
        token = match.group(0)
        if match.start() < position or token == "\\$":
            continue
        if closer is not None:
            if token == closer:
                closer = None
            continue
        if token in _CLOSERS:
            closer = _CLOSERS[token]
            continue
        if token != "\\boxed{":
            continue
        end = closing.get(match.end() - 1, -1)
        if end < 0:
            continue  # unbalanced: leave it as the model wrote it
        out.append(prose[position : match.start()])
        out.append("$" + prose[match.start() : end + 1] + "$")
        position = end + 1
    out.append(prose[position:])
    return "".join(out)


def _matching_braces(text: str) -> dict[int, int]:
    """Index of each ``{`` → index of its ``}``, in one pass (escaped braces skipped)."""
    closing: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE_TOKEN.finditer(text):
        token = match.group(0)
        if token == "{":
            stack.append(match.start())
        elif token == "}" and stack:
            closing[stack.pop()] = match.start()
    return closing


def to_display(text: str, image_hosts: Iterable[str] = ()) -> str:
    """Model text as inert Markdown + LaTeX for the chatbot (see the module docstring)."""
    if not text:
        return text
    hosts = frozenset(host.strip().lower() for host in image_hosts if host.strip())
    return "".join(
        piece if code else _defuse(_box_math(piece), hosts) for code, piece in segments(text)
    )


def from_display(text: str) -> str:
    """The inverse of :func:`to_display`'s escaping: what the model wrote (images removed)."""
    if "&" not in text:
        return text
    # Every "&" outside code starts one of our three entities, so chained replaces are exact.
    return "".join(
        piece if code else piece.replace("&lt;", "<").replace("&#91;", "[").replace("&amp;", "&")
        for code, piece in segments(text)
    )


__all__ = ["from_display", "segments", "to_display"]
