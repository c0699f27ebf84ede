"""Recipe ``params:``: TRL ``SFTConfig`` field names, passed through to TRL.

Why pass-through: a setup written for TRL or open-r1 then reads the same in a recipe, and a new
TRL option works the day TRL ships it, without a hand-written mapping that drifts (issue 10). The
toolkit changes a default only where TRL's would hurt reasoning traces (the fields of
:class:`ParamsConfig`, each with its reason) and adds a few keys of its own (``TOOLKIT_PARAMS``).
Unknown keys are still an error that names the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from typing import Any

from toolkit.training.overrides import RecipeError, coerce

#: Earlier short spellings → the ``SFTConfig`` field they stand for. ``warmup_ratio`` is gone from
#: transformers 5, where ``warmup_steps`` below 1 is read as a ratio of the total steps.
PARAM_ALIASES = {
    "lr": "learning_rate",
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "gradient_accumulation": "gradient_accumulation_steps",
    "scheduler": "lr_scheduler_type",
    "warmup_ratio": "warmup_steps",
}
#: ``SFTConfig`` fields the toolkit sets from elsewhere in the recipe.
RESERVED_PARAMS = {
    "output_dir": "the top-level output_dir",
    "push_to_hub": "hub.push",
    "hub_model_id": "hub.repo_id",
    "hub_token": "hub.token",
    "resume_from_checkpoint": "params.resume (or --resume)",
    "overwrite_output_dir": "params.overwrite (or --overwrite)",
}


@dataclass
class ParamsConfig:
    """TRL ``SFTConfig`` fields (passed through) plus the toolkit's own keys.

    The fields below are the ones whose *default* the toolkit changes, each for a reason; any other
    ``SFTConfig`` field given in the recipe lands in ``extra`` and is passed through as is.
    """

    learning_rate: float = 2e-5
    #: TRL's default is 3; R1 distillation setups (open-r1, Bespoke) train one epoch.
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    #: TRL's default 1024 would truncate most reasoning traces.
    max_length: int = 4096
    #: Packing (best-fit decreasing, padding-free) is where SFT on long-tailed traces gets its
    #: throughput; TRL has it off by default.
    packing: bool = True
    packing_strategy: str = "bfd"
    padding_free: bool = True
    #: Computed by the toolkit's own masks (:mod:`toolkit.training.data`), never by TRL's
    #: ``{% generation %}`` path; ``false`` trains on every token (system and user included).
    assistant_only_loss: bool = True
    #: Below 1 a ratio of the total steps (transformers 5 folded ``warmup_ratio`` into it).
    warmup_steps: float = 0.03
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    #: transformers defaults to the fused AdamW, which not every CPU build of torch has.
    optim: str = "adamw_torch"
    gradient_checkpointing: bool = True
    #: ``None``: bf16 when a GPU supports it, fp32 on CPU.
    bf16: bool | None = None
    seed: int = 42
    logging_steps: int | float = 1
    save_steps: int | float = 500
    save_total_limit: int | None = 2
    #: ``auto``: trackio if installed, else TensorBoard if installed, else nothing (no cloud).
    report_to: str = "auto"
    dataloader_num_workers: int = 0
    dataset_num_proc: int | None = None
    # --- the toolkit's own keys (not SFTConfig fields) ---
    #: Continue from the newest valid checkpoint in output_dir (``--resume``).
    resume: bool = False
    #: Start over in an output_dir that already holds a run (``--overwrite``).
    overwrite: bool = False
    #: Add ``<think>``/``</think>`` as special tokens (embedding resize) when the tokenizer lacks them.
    think_tokens: bool = False
    #: Init of new embedding rows: ``text`` = mean of the tokens of the literal text, ``mean`` = mean row.
    think_token_init: str = "text"
    attn_implementation: str | None = None
    #: When ``max_length`` exceeds the model's positions: ``yarn``/``linear``/``dynamic`` RoPE
    #: scaling with factor max_length / max_position_embeddings (else the run is refused).
    rope_scaling: str | None = None
    #: CPU only: torch intra-op threads. ``None`` = the cores idle at the start (measured on a
    #: 2-core box: 1 thread beats 2 when the box is loaded, 2 beat 1 when it is idle).
    cpu_threads: int | None = None
    #: Every other ``SFTConfig`` field from the recipe, passed through unchanged.
    extra: dict[str, Any] = field(default_factory=dict)
    #: How the recipe spelled each key (``lr`` for ``learning_rate``), so errors quote it.
    spelled: dict[str, str] = field(default_factory=dict, repr=False)

    # Earlier spellings, read-only (code written against them keeps working).
    lr = property(lambda self: self.learning_rate)
    epochs = property(lambda self: self.num_train_epochs)
    batch_size = property(lambda self: self.per_device_train_batch_size)
    gradient_accumulation = property(lambda self: self.gradient_accumulation_steps)
    scheduler = property(lambda self: self.lr_scheduler_type)
    warmup_ratio = property(lambda self: self.warmup_steps)

    def key(self, name: str) -> str:
        """``params.<name>`` as the recipe wrote it."""
        return f"params.{self.spelled.get(name, name)}"

    def to_dict(self) -> dict[str, Any]:
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("extra", "spelled")
        }
        out.update(self.extra)
        return out


TOOLKIT_PARAMS = (
    "resume",
    "overwrite",
    "think_tokens",
    "think_token_init",
    "attn_implementation",
    "rope_scaling",
    "cpu_threads",
)


def _sft_fields() -> dict[str, Any]:
    """``SFTConfig``'s field names → type hints (imports TRL: only called when needed)."""
    from trl import SFTConfig

    hints = typing.get_type_hints(SFTConfig)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(SFTConfig) if f.init}


def build_params(values: dict[str, Any] | None) -> ParamsConfig:
    """``params:`` → :class:`ParamsConfig`: aliases resolved, known fields coerced, every other
    ``SFTConfig`` field checked against TRL and kept in ``extra``."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RecipeError(f"params: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(ParamsConfig)
    own = {f.name for f in dataclasses.fields(ParamsConfig)} - {"extra", "spelled"}
    kwargs: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    unknown: list[str] = []
    extra: dict[str, Any] = {}
    sft: dict[str, Any] | None = None
    for given, value in values.items():
        name = PARAM_ALIASES.get(given, given)
        if name in spelled:
            raise RecipeError(f"params: {given} and {spelled[name]} both set {name}; keep one")
        if name in RESERVED_PARAMS:
            raise RecipeError(f"params.{given}: set by the toolkit from {RESERVED_PARAMS[name]}")
        spelled[name] = given
        if name in own:
            kwargs[name] = coerce(value, hints[name], f"params.{given}")
            continue
        sft = sft if sft is not None else _sft_fields()
        if name in sft:
            try:
                extra[name] = coerce(value, sft[name], f"params.{given}")
            except RecipeError as error:
                if "unsupported type" not in str(error):
                    raise
                extra[name] = value  # a type only TRL knows how to read: TRL validates it
        else:
            unknown.append(given)
    if unknown:
        sft = sft if sft is not None else _sft_fields()
        names = sorted(set(sft) | own | set(PARAM_ALIASES))
        guesses = [m for u in unknown for m in difflib.get_close_matches(u, names, n=1)]
        hint = f"; did you mean {', '.join(guesses)}?" if guesses else ";"
        raise RecipeError(
            f"params: unknown key(s) {', '.join(sorted(unknown))}{hint} valid keys: any TRL "
            f"SFTConfig field (learning_rate, num_train_epochs, per_device_train_batch_size, …), "
            f"the toolkit's own ({', '.join(TOOLKIT_PARAMS)}) and the short aliases "
            f"{', '.join(PARAM_ALIASES)}"
        )
    params = ParamsConfig(**kwargs, extra=extra)
    params.spelled = {k: v for k, v in spelled.items() if k != v}
    return params
