"""Where a dataset came from, in words fit for a public card.

Collected from the data itself (the ``source`` column, the generation metadata) and the
curation lineage, then made publishable: a card is read by strangers, so it must not carry the
machine it was made on (a teacher loaded from ``/home/me/.cache/…``, a fixture path, a temporary
file), raw exception text, or a secret. :func:`public_text` is the one filter every string goes
through before it reaches a card.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from toolkit.errors import UsageError
from toolkit.redact import redact

_METADATA_KEYS = {
    "teacher": ("teacher", "teacher_model", "model"),
    "sampling": ("sampling", "sampling_params", "generation_config", "params"),
}
_SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "max_tokens", "max_new_tokens", "seed", "n")

#: Licences of well-known source datasets, as their Hub cards state them. A card's licence is
#: inferred only when every source is listed here with the same licence; otherwise (generated
#: traces, local files, unknown datasets) the publisher must say (``--license``).
KNOWN_SOURCE_LICENSES = {
    "open-r1/OpenR1-Math-220k": "apache-2.0",
    "bespokelabs/Bespoke-Stratos-17k": "apache-2.0",
    "open-thoughts/OpenThoughts-114k": "apache-2.0",
    "AI-MO/NuminaMath-CoT": "apache-2.0",
    "openai/gsm8k": "mit",
}

# An absolute or home-relative path of two or more parts (``/tmp/x.jsonl``, ``~/m``,
# ``C:\\data\\x``), starting a token: not inside a URL, a Hub id or a fraction, and never a
# LaTeX command (a backslash counts as a separator only after a drive letter).
_PATH_CHAR = r"[^\s'\"`|,;()\[\]{}<>]"
_PATH = re.compile(
    rf"(?<![\w/.~-])(?!//)(?:~?/{_PATH_CHAR}+/{_PATH_CHAR}*|[A-Za-z]:[\\/]{_PATH_CHAR}+)"
)
# "SomethingError: message" / "SomeException(...)": keep the class name, drop the text.
_RAW_ERROR = re.compile(r"\b([A-Z]\w*(?:Error|Exception))\b(?::|\()[^;]*")


def _basename(path: str) -> str:
    parts = [p for p in re.split(r"[/\\]", path) if p]
    return parts[-1] if parts else path


def public_text(text: str) -> str:
    """``text`` without local paths (kept as their last component), raw error messages (kept
    as the error's class name) or secrets."""
    text = _PATH.sub(lambda match: _basename(match.group(0)), text)
    text = _RAW_ERROR.sub(r"\1", text)
    return redact(text)


def _public_value(value: Any) -> Any:
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, dict):
        return {k: _public_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_public_value(v) for v in value]
    return value


def _distinct(values: Sequence[Any], limit: int = 5) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = _public_value(value)
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if text and text not in seen:
            seen.append(text)
        if len(seen) >= limit:
            break
    return seen


def prompt_text(meta: dict[str, Any]) -> str | None:
    """The exact prompt recorded in a row's metadata: the user template (``prompt`` or
    ``prompt_template``) with its ``system_prompt``; else the template id (``template``, e.g.
    ``open-r1@3f2a…``), marked as such: the card never guesses a text it was not given."""
    user = meta.get("prompt") or meta.get("prompt_template")
    system = meta.get("system_prompt")
    if isinstance(user, str) and user.strip():
        return (f"[system]\n{system}\n[user]\n" if system else "") + user
    if isinstance(system, str) and system.strip():
        return f"[system]\n{system}"
    template = meta.get("template")
    if template:
        return f"template {template} (its text was not recorded with the traces)"
    return None


def _sampling(meta: dict[str, Any]) -> dict[str, Any] | None:
    params = next((meta[k] for k in _METADATA_KEYS["sampling"] if meta.get(k)), None)
    if params is None:
        params = {k: meta[k] for k in _SAMPLING_FIELDS if k in meta} or None
    if isinstance(params, dict):  # unset parameters are noise in a card
        params = {k: v for k, v in params.items() if v is not None} or None
    return params


def public_source(source: str) -> str:
    """A ``source`` value without the local path of a generating model."""
    kind, sep, rest = source.partition(":")
    if sep and kind == "generate":
        return f"generate:{public_text(rest)}"
    return public_text(source)


def collect_lineage(
    data: Any, lineage: Sequence[Any] | None = None, *, scan_rows: int = 2000
) -> dict[str, Any]:
    """Sources with revisions (the ``source`` column), teachers, prompt templates (as text) and
    sampling parameters (from ``metadata``, first ``scan_rows`` rows per split), and the
    curation steps; every string made public with :func:`public_text`."""
    from toolkit.schema import loads_metadata
    from toolkit.store.lineage import lineage_entries
    from toolkit.tables import column_values, splits_of

    sources: Counter[str] = Counter()
    teachers: list[Any] = []
    templates: list[Any] = []
    sampling: list[Any] = []
    for split in splits_of(data).values():
        if "source" in split.column_names:
            sources.update(s for s in column_values(split, "source") if s)
        if "metadata" not in split.column_names:
            continue
        for raw in column_values(split.select(range(min(scan_rows, len(split)))), "metadata"):
            try:
                meta = loads_metadata(raw)
            except ValueError:
                continue
            if not isinstance(meta, dict):
                continue
            key = next((k for k in _METADATA_KEYS["teacher"] if meta.get(k)), None)
            if key is not None:
                teacher = meta[key]
                if isinstance(teacher, dict) and teacher.get("model"):
                    teacher = teacher["model"]  # {"backend", "model", ...}: the model
                teachers.append(teacher)
            prompt = prompt_text(meta)
            if prompt is not None:
                templates.append(prompt)
            params = _sampling(meta)
            if params:
                sampling.append(params)
    generated = [s.split(":", 1)[1] for s in sources if s.startswith("generate:")]
    steps = []
    for entry in lineage_entries(lineage):
        step = _public_value(entry)
        step.setdefault("params", {})
        step.setdefault("removed_by_reason", {})
        step.setdefault("notes", [])
        step["params_text"] = json.dumps(
            {k: v for k, v in step["params"].items() if v is not None}, sort_keys=True
        ).replace("|", "\\|")
        steps.append(step)
    return {
        "sources": [public_source(s) for s, _ in sources.most_common()],
        "raw_sources": [s for s, _ in sources.most_common()],
        "teachers": _distinct(generated + teachers),
        "prompt_templates": _distinct(templates, limit=3),
        "sampling": _distinct(sampling),
        "steps": steps,
    }


def source_datasets(sources: Sequence[str]) -> list[str]:
    """Hub ids of the source datasets (``org/name@rev`` → ``org/name``; generated rows skipped)."""
    ids = []
    for source in sources:
        if source.startswith("generate:") or "/" not in source:
            continue
        name = source.split("@", 1)[0].split(":", 1)[0]
        if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and name not in ids:
            ids.append(name)
    return ids


def infer_license(sources: Sequence[str]) -> str | None:
    """The licence every source shares, when all are known datasets; else ``None``."""
    if not sources:
        return None
    found = set()
    for source in sources:
        name = source.split("@", 1)[0].split(":", 1)[0]
        if name not in KNOWN_SOURCE_LICENSES:
            return None
        found.add(KNOWN_SOURCE_LICENSES[name])
    return found.pop() if len(found) == 1 else None


def license_required_message(sources: Sequence[str]) -> UsageError:
    shown = ", ".join(public_source(s) for s in list(sources)[:3]) or "none recorded"
    return UsageError(
        f"the licence of the source data is unknown (sources: {shown}); the dataset card needs one",
        hint="pass --license (license=…), e.g. apache-2.0, mit, cc-by-4.0 or other; check the "
        "source datasets' licences and the teacher model's terms",
    )


__all__ = [
    "KNOWN_SOURCE_LICENSES",
    "collect_lineage",
    "infer_license",
    "prompt_text",
    "public_source",
    "public_text",
    "source_datasets",
]
