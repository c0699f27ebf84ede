"""Checkpoints that survive a kill: resume from the newest *complete* one, never over a run by chance.

A kill during a checkpoint save leaves ``checkpoint-N/`` empty or half written; transformers'
``get_last_checkpoint`` picks it by its number alone, and the resume then fails although
``checkpoint-(N-1)`` is fine (issue 15). Here a checkpoint counts only when its
``trainer_state.json`` parses and its weights are there (the Trainer writes the state after the
weights), torn ones are skipped with a warning naming them, and an output directory that already
holds a run is only reused with ``--resume`` (continue) or ``--overwrite`` (start over).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolkit.training.recipe import Recipe

log = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def is_complete(checkpoint: Path) -> bool:
    """``trainer_state.json`` parses and weights (or a DeepSpeed/FSDP state folder) exist."""
    state = checkpoint / "trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if any((checkpoint / name).is_file() for name in WEIGHT_FILES):
        return True
    # Sharded saves: DeepSpeed writes global_step*/, FSDP pytorch_model_fsdp_0/.
    return any(checkpoint.glob("global_step*")) or any(checkpoint.glob("pytorch_model_fsdp*"))


def checkpoints(output_dir: Path) -> list[Path]:
    """``checkpoint-N`` directories, newest first."""
    if not output_dir.is_dir():
        return []
    found = [
        (int(match.group(1)), path)
        for path in output_dir.iterdir()
        if path.is_dir() and (match := _CHECKPOINT.match(path.name))
    ]
    return [path for _, path in sorted(found, reverse=True)]


def last_complete(output_dir: Path) -> Path | None:
    """The newest complete checkpoint; torn newer ones are named in a warning and skipped."""
    torn = []
    for path in checkpoints(output_dir):
        if is_complete(path):
            if torn:
                log.warning(
                    "skipping incomplete checkpoint(s) %s (interrupted while saving); "
                    "resuming from %s",
                    ", ".join(p.name for p in torn),
                    path.name,
                )
            return path
        torn.append(path)
    if torn:
        log.warning("no complete checkpoint in %s (torn: %s)", output_dir, torn[0].name)
    return None


def resume_checkpoint(recipe: Recipe) -> str | None:
    """The checkpoint to continue from (``params.resume``), or ``None`` to start fresh."""
    if not recipe.params.resume:
        return None
    checkpoint = last_complete(Path(recipe.output_dir))
    if checkpoint is None:
        log.warning(
            "params.resume is set but %s has no complete checkpoint: starting fresh",
            recipe.output_dir,
        )
        return None
    number = int(_CHECKPOINT.match(checkpoint.name).group(1))
    for path in checkpoints(Path(recipe.output_dir)):
        if int(_CHECKPOINT.match(path.name).group(1)) > number:
            # Torn: useless, and in the way when the resumed run saves that step again.
            shutil.rmtree(path, ignore_errors=True)
    log.info("resuming from %s", checkpoint)
    return str(checkpoint)


def clear_for_overwrite(recipe: Recipe) -> None:
    """``--overwrite``: remove the previous run's directory so nothing of it leaks into this one
    (the main process removes it, the others wait)."""
    out = Path(recipe.output_dir)
    if not (recipe.params.overwrite and out.is_dir()):
        return
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process:
        log.warning("--overwrite: removing the previous run in %s", out)
        shutil.rmtree(out)
    state.wait_for_everyone()
