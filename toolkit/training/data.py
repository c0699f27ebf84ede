"""Traces → chat ``messages`` → token ids with an assistant-only loss mask that includes EOS.

Why not TRL's ``assistant_only_loss``? It needs a chat template with ``{% generation %}`` markers;
most stock templates (SmolLM2, Llama 3, Qwen2.5, the tiny ChatML one) have none, and templates
that do often leave the end-of-turn token outside the marked span, so the model never learns to
stop (seed bug: "EOS masked out"). Worse, DeepSeek-R1-Distill and Qwen3 templates *strip* the
``<think>`` part from assistant turns, and R1-distill templates *prefill* ``<think>\\n`` in the
generation prompt, so rendering a conversation with the stock template silently drops the very
reasoning we want to distil.

So we tokenize ourselves, by character spans:

* If the template keeps the reasoning and does not prefill (ChatML, Llama 3, Phi-3…), the whole
  conversation is rendered once; each assistant turn's span runs from the end of the generation
  prompt to the end of its end-of-turn token (``<|im_end|>``, ``<|eot_id|>``, ``<|end|>``…).
* Otherwise (stripping or prefilling templates) the *last* assistant turn is trained as
  prompt + completion: the prompt is the template's generation prompt (exactly what the model sees
  at inference, prefill included), the completion is the assistant text with the prefilled part
  removed, plus the end-of-turn token.

Tokens whose characters overlap an assistant span get mask 1; everything else (system, user,
role headers) gets 0, which the trainer turns into label -100. The result is a pre-tokenized
``input_ids`` + ``assistant_masks`` dataset that TRL's ``SFTTrainer`` consumes as is (it builds
``labels`` from the mask, truncates and packs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import DataError, UsageError
from toolkit.thinking import THINK_CLOSE, THINK_OPEN

if TYPE_CHECKING:
    import datasets

    from toolkit.training.recipe import DataConfig

log = logging.getLogger(__name__)

_PROBE_USER = "Q7c1 probe question"
_PROBE_REASONING = "R7c1 probe reasoning"
_PROBE_ANSWER = "A7c1 probe answer"
_SCHEMA_KEYS = ("problem", "answer")


SMOLLM2_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")


def resolve_model(name_or_path: str) -> str:
    """What a model name means (alias, local store id, path or Hub id), as everywhere else:
    :func:`toolkit.models.resolve_model`."""
    from toolkit.models import resolve_model as resolve

    return resolve(name_or_path)


@dataclass
class DataInfo:
    """What was trained on (goes into ``training_summary.json``)."""

    source: str
    version: str | None
    revision: str | None
    split: str
    rows_loaded: int
    rows_used: int
    rows_dropped: int
    drop_reasons: dict[str, int]


def load_traces(config: DataConfig) -> tuple[datasets.Dataset, DataInfo]:
    """Load ``config.path`` and return a dataset with one ``messages`` column.

    Rows that cannot train (no assistant turn, empty assistant text, unclosed reasoning when
    ``drop_incomplete``) are dropped with a count per reason, not silently.
    """
    revision = None
    if config.version:
        from toolkit.store import load as hub_load  # lazily: only versioned datasets need it

        # The version *is* the pinned revision (tag v<version>); no separate revision to record.
        table = hub_load(config.path, version=config.version, split=config.split)
    else:
        from toolkit.io import load_table

        table = load_table(config.path, split=config.split)
    rows_loaded = len(table)
    if config.limit is not None:
        table = table.select(range(min(config.limit, len(table))))
    table = to_messages_table(table, config)
    before = len(table)
    reasons: dict[str, int] = {}

    def keep(row: dict[str, Any]) -> bool:
        reason = _unusable(row["messages"], drop_incomplete=config.drop_incomplete)
        if reason:
            reasons[reason] = reasons.get(reason, 0) + 1
            return False
        return True

    kept = [i for i, row in enumerate(table) if keep(row)]
    if len(kept) != before:
        table = table.select(kept)
        log.warning(
            "dropped %d of %d rows: %s",
            before - len(kept),
            before,
            ", ".join(f"{n} {r}" for r, n in reasons.items()),
        )
    if len(table) == 0:
        raise DataError(
            f"no usable rows ({reasons or 'empty dataset'})",
            path=config.path,
            hint="each row needs a final assistant turn with text (closed <think> reasoning)",
        )
    info = DataInfo(
        source=config.path,
        version=config.version,
        revision=revision,
        split=config.split,
        rows_loaded=rows_loaded,
        rows_used=len(table),
        rows_dropped=before - len(table),
        drop_reasons=reasons,
    )
    return table, info


def to_messages_table(table: datasets.Dataset, config: DataConfig) -> datasets.Dataset:
    """Bring any supported table to a single ``messages`` column with ``<think>`` in the answer."""
    import datasets

    fmt = (config.format or "auto").lower()
    columns = set(table.column_names)
    if fmt in ("auto", "schema", "messages") and "messages" in columns:
        messages = table["messages"]
    elif fmt in ("auto", "schema") and all(k in columns for k in _SCHEMA_KEYS):
        from toolkit.schema import build_messages

        messages = [
            build_messages(
                row["problem"],
                row.get("reasoning"),
                row["answer"] or "",
                reasoning_complete=row.get("reasoning_complete", True) is not False,
            )
            for row in table
        ]
    elif fmt in ("schema", "messages"):
        raise DataError(
            f"data.format is {fmt!r} but there is neither a 'messages' column nor "
            f"'problem'/'answer' columns (columns: {', '.join(sorted(columns))})",
            path=config.path,
            hint="set data.format to the source's format (e.g. bespoke, magpie) or auto",
        )
    else:
        normalized = _normalize(table, None if fmt == "auto" else fmt)
        messages = normalized["messages"]
    if config.drop_system_prompt:
        messages = [[t for t in m if t["role"] != "system"] for m in messages]
    if config.system_prompt:
        messages = [_with_system(m, config.system_prompt) for m in messages]
    cleaned = [_clean(m, row, config.path) for row, m in enumerate(messages, 1)]
    return datasets.Dataset.from_dict({"messages": cleaned})


def _normalize(table: datasets.Dataset, fmt: str | None) -> datasets.Dataset:
    """Convert any supported source format with :func:`toolkit.normalize` (``auto`` detects it)."""
    try:
        from toolkit.formats import normalize
    except ImportError as error:
        raise UsageError(
            "data has no 'messages' or schema columns and toolkit.formats.normalize is not "
            f"available to convert it ({error})",
            hint="normalize it first with `toolkit normalize`",
        ) from None
    result = normalize(fmt or "auto", table)
    return result[0] if isinstance(result, tuple) else result


def _with_system(messages: list[dict[str, str]], system: str) -> list[dict[str, str]]:
    if messages and messages[0]["role"] == "system":
        return messages
    return [{"role": "system", "content": system}, *messages]


def _clean(messages: Any, row: int, path: str) -> list[dict[str, str]]:
    """Turns as ``{role, content}`` strings; anything else (a ``messages`` that is a string, a
    turn without a role) is a :class:`DataError` naming the file and row, not a traceback."""
    if not isinstance(messages, list | tuple) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        kind = type(messages).__name__ if not isinstance(messages, list | tuple) else "a list"
        raise DataError(
            f'\'messages\' must be a list of {{"role": …, "content": …}} turns, got {kind}'
            + ("" if not isinstance(messages, list | tuple) else " with a turn that has no role"),
            path=path,
            row=row,
            field="messages",
            hint="fix the row, or normalize the data first (`toolkit normalize auto DATA`)",
        )
    return [{"role": m["role"], "content": str(m.get("content") or "")} for m in messages]


def _unusable(messages: list[dict[str, str]], *, drop_incomplete: bool) -> str | None:
    if not messages or messages[-1]["role"] != "assistant":
        return "without a final assistant turn"
    content = messages[-1]["content"]
    if not content.strip():
        return "with an empty assistant turn"
    if drop_incomplete and THINK_OPEN in content and THINK_CLOSE not in content:
        return "with unclosed reasoning"
    return None


@dataclass
class TemplateInfo:
    """How a tokenizer's chat template treats reasoning and where an assistant turn ends."""

    keeps_reasoning: bool
    prefill: str
    end_of_turn: str

    @property
    def mode(self) -> str:
        return "conversation" if self.keeps_reasoning and not self.prefill else "prompt_completion"


def analyze_template(tokenizer: Any) -> TemplateInfo:
    """Probe the chat template with a marked conversation (no model needed)."""
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template",
            hint="use an instruct/chat model or set one (e.g. copy the instruct model's template)",
        )
    assistant = f"{THINK_OPEN}\n{_PROBE_REASONING}\n{THINK_CLOSE}\n\n{_PROBE_ANSWER}"
    convo = [{"role": "user", "content": _PROBE_USER}, {"role": "assistant", "content": assistant}]
    full = tokenizer.apply_chat_template(convo, tokenize=False)
    prompt = tokenizer.apply_chat_template(convo[:1], tokenize=False, add_generation_prompt=True)
    keeps = _PROBE_REASONING in full
    prefill = ""
    tail = prompt.rstrip()
    if tail.endswith(THINK_OPEN):
        # What the prompt ends with after the last special/role token: "<think>\n" typically.
        prefill = prompt[prompt.rstrip().rfind(THINK_OPEN) :]
    after_answer = full[full.find(_PROBE_ANSWER) + len(_PROBE_ANSWER) :]
    end_of_turn = _first_special(tokenizer, after_answer) or (tokenizer.eos_token or "")
    if not end_of_turn:
        raise UsageError(
            "cannot tell how an assistant turn ends: the tokenizer has no EOS token",
            hint="set the tokenizer's eos_token to the template's end-of-turn token",
        )
    return TemplateInfo(keeps_reasoning=keeps, prefill=prefill, end_of_turn=end_of_turn)


def _first_special(tokenizer: Any, text: str) -> str | None:
    """The first special token at the start of ``text`` (after whitespace), e.g. ``<|im_end|>``."""
    stripped = text.lstrip()
    specials = sorted(
        set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {})),
        key=len,
        reverse=True,
    )
    for token in specials:
        if token and stripped.startswith(token):
            return token
    return None


def render_for_training(
    messages: list[dict[str, str]], tokenizer: Any, info: TemplateInfo
) -> tuple[str, list[tuple[int, int]]]:
    """The training text and the character spans that carry the loss."""
    if info.mode == "conversation":
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        spans = []
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = tokenizer.apply_chat_template(
                messages[:i], tokenize=False, add_generation_prompt=True
            )
            if not text.startswith(prompt):
                # History rendering differs from the incremental prompt: fall back to the
                # prompt-completion form for the last turn, which is always faithful.
                return _prompt_completion(messages, tokenizer, info)
            content_at = text.find(message["content"], len(prompt))
            if content_at < 0:
                return _prompt_completion(messages, tokenizer, info)
            end = content_at + len(message["content"])
            rest = text[end:]
            eot_at = rest.find(info.end_of_turn)
            if eot_at >= 0 and not rest[:eot_at].strip():
                end += eot_at + len(info.end_of_turn)
            spans.append((len(prompt), end))
        return text, spans
    return _prompt_completion(messages, tokenizer, info)


def _prompt_completion(
    messages: list[dict[str, str]], tokenizer: Any, info: TemplateInfo
) -> tuple[str, list[tuple[int, int]]]:
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    completion = messages[-1]["content"]
    if info.prefill:
        # The template already wrote "<think>\n"; the target continues from there.
        prefill = info.prefill.strip()
        stripped = completion.lstrip()
        if stripped.startswith(prefill):
            completion = stripped[len(prefill) :]
            if info.prefill.endswith("\n") and completion.startswith("\n"):
                completion = completion[1:]
    text = prompt + completion + info.end_of_turn
    return text, [(len(prompt), len(text))]


def tokenize_conversation(
    messages: list[dict[str, str]], tokenizer: Any, info: TemplateInfo, *, all_tokens: bool = False
) -> dict[str, list[int]]:
    """``input_ids`` and ``assistant_masks`` (1 = in the loss) for one conversation.

    ``all_tokens`` (``params.assistant_only_loss: false``) puts every token in the loss, as setups
    that train on the whole conversation do (Phi-3 on Magpie); the text is rendered the same way,
    so the reasoning still survives stripping templates.
    """
    text, spans = render_for_training(messages, tokenizer, info)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if all_tokens:
        masks = [1] * len(encoded["input_ids"])
    else:
        masks = []
        for start, end in encoded["offset_mapping"]:
            inside = any(start < s_end and end > s_start for s_start, s_end in spans)
            masks.append(1 if inside else 0)
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": masks}


def tokenize_dataset(
    table: datasets.Dataset,
    tokenizer: Any,
    *,
    num_proc: int | None = None,
    all_tokens: bool = False,
) -> tuple[datasets.Dataset, TemplateInfo]:
    """Tokenize a ``messages`` dataset for SFT; see the module docstring for the masking rule."""
    info = analyze_template(tokenizer)
    if info.mode != "conversation":
        log.info(
            "chat template %s; training the last assistant turn as prompt + completion",
            "prefills the reasoning" if info.prefill else "strips the reasoning from history",
        )

    def encode(row: dict[str, Any]) -> dict[str, Any]:
        out = tokenize_conversation(row["messages"], tokenizer, info, all_tokens=all_tokens)
        out["num_tokens"] = len(out["input_ids"])
        return out

    tokenized = table.map(
        encode, remove_columns=table.column_names, num_proc=num_proc, desc="Tokenizing"
    )
    return tokenized, info


def add_think_tokens(model: Any, tokenizer: Any, *, init: str = "text") -> list[str]:
    """Add ``<think>``/``</think>`` as special tokens when missing; resize and initialise rows.

    Why an init: fresh rows are random and their logits start far from the distribution, so the
    first steps spend their gradient just learning where ``</think>`` lives. ``text`` initialises
    each new row with the mean embedding of the tokens the literal text used to split into (the
    model already "knows" that string); ``mean`` uses the mean of all rows.
    """
    import torch

    vocab = tokenizer.get_vocab()
    new = [t for t in (THINK_OPEN, THINK_CLOSE) if t not in vocab]
    if not new:
        return []
    pieces = {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in new}
    tokenizer.add_special_tokens(
        {"additional_special_tokens": new}, replace_extra_special_tokens=False
    )
    old_size = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        embeddings = model.get_input_embeddings().weight
        output = model.get_output_embeddings()
        out_weight = output.weight if output is not None else None
        tied = out_weight is not None and out_weight.data_ptr() == embeddings.data_ptr()
        for token in new:
            row = tokenizer.convert_tokens_to_ids(token)
            ids = [i for i in pieces[token] if i < old_size]
            source = ids if init == "text" and ids else list(range(old_size))
            embeddings[row] = embeddings[source].mean(dim=0)
            if out_weight is not None and not tied:
                out_weight[row] = out_weight[source].mean(dim=0)
    return new


def template_info_dict(info: TemplateInfo) -> dict[str, Any]:
    return {
        "mode": info.mode,
        "keeps_reasoning": info.keeps_reasoning,
        "prefill": info.prefill,
        "end_of_turn": info.end_of_turn,
    }


def model_label(name_or_path: str, requested: str | None = None) -> str:
    """The Hub id a model stands for, for summaries and model cards.

    ``requested`` is what the recipe named: the ``smollm2`` alias stands for the Hub model, and a
    local copy's ``config.json`` may carry the id it was saved from (``_name_or_path``).
    """
    if requested and requested.strip().lower() in SMOLLM2_ALIASES:
        from toolkit.models import SMOLLM2_HUB_ID

        return SMOLLM2_HUB_ID
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        import json

        config = json.loads((path / "config.json").read_text())
        return config.get("_name_or_path") or config.get("name_or_path") or str(path)
    return name_or_path
