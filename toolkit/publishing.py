"""Publish a trained model directory: weights + model card + eval plot + results, one version.

``toolkit.publish(model_dir, "org/name", results="results.json", version="1.0.0")``

1. checks that the folder is a loadable checkpoint (config + weights, or a PEFT adapter);
2. writes the model card (``README.md``, eval table as ``model-index`` validated against the
   results file) and ``eval_plot.png`` into the model directory;
3. stages what belongs in the repository — the top-level files, ``eval_results.json``, never
   intermediate ``checkpoint-*`` folders, optimizer states or TensorBoard runs — as hard links
   (no copy of multi-GB weights);
4. pushes with :func:`toolkit.store.push_folder` (the local git store by default, the Hub when
   configured), tagging ``version`` and optionally opening a pull request instead of pushing to
   the main branch.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
#: Never published: training state that is large and useless to users of the model.
EXCLUDED_DIRS = ("runs", "logs", "wandb", ".git", "__pycache__")
EXCLUDED_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state.pth",
    "trainer_state.json",
    "training_args.bin",
)
RESULTS_NAME = "eval_results.json"


@dataclass
class PublishResult:
    """What was published where: the hub's push result plus the card files."""

    repo_id: str
    version: str | None
    push: Any
    readme: Path | None
    plot: Path | None
    files: list[str]


def check_model_dir(model_dir: Path) -> None:
    """Raise a clear error (a :class:`toolkit.errors.ToolkitError`, one line in the CLI) unless
    ``model_dir`` holds a loadable checkpoint."""
    from toolkit.errors import DataError, MissingError

    if not model_dir.is_dir():
        raise MissingError(
            f"{model_dir}: model directory not found",
            hint="give the training output directory (the `output_dir` of the recipe)",
        )
    adapter = (model_dir / "adapter_config.json").is_file()
    if not (model_dir / "config.json").is_file() and not adapter:
        raise DataError(
            "no config.json (or adapter_config.json); not a model directory", path=str(model_dir)
        )
    if not any(p.suffix in WEIGHT_SUFFIXES for p in model_dir.iterdir() if p.is_file()):
        raise DataError(
            f"no weight files ({', '.join(WEIGHT_SUFFIXES)}); save the model with "
            "save_pretrained first",
            path=str(model_dir),
        )


def _publishable(model_dir: Path) -> list[Path]:
    files = []
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir)
        top = relative.parts[0]
        if top.startswith("checkpoint-") or top in EXCLUDED_DIRS or top.endswith(".partial"):
            continue
        if path.is_file() and path.name not in EXCLUDED_FILES:
            files.append(path)
    return files


def _stage(model_dir: Path, files: list[Path], staging: Path) -> None:
    """Hard-link (or copy across file systems) the publishable files into ``staging``."""
    for path in files:
        target = staging / path.relative_to(model_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


@dataclass
class CardFiles:
    """What :func:`write_model_card` wrote."""

    readme: Path
    plot: Path | None
    card: ModelCard


def write_model_card(
    model_dir: str | os.PathLike[str],
    results: str | os.PathLike[str] | dict[str, Any],
    *,
    base_results: str | os.PathLike[str] | dict[str, Any] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    plot: bool = True,
    **card_options: Any,
) -> CardFiles:
    """Write ``README.md`` (and ``eval_plot.png``) for ``model_dir`` into ``output_dir`` (default:
    the model directory itself, so that publishing the folder publishes the card), validated
    against the results file before anything is written."""
    from toolkit.cards.model_card import PLOT_FILE, README, build_model_card, read_training_summary
    from toolkit.cards.model_index import validate_model_card
    from toolkit.cards.model_plots import plot_evaluation
    from toolkit.errors import MissingError
    from toolkit.evaluation.results import load_details, load_results

    folder = Path(model_dir)
    if not folder.is_dir():
        raise MissingError(f"{folder}: model directory not found")
    results_data = results if isinstance(results, dict) else load_results(results)
    base_data = (
        None
        if base_results is None
        else base_results
        if isinstance(base_results, dict)
        else load_results(base_results)
    )
    out = Path(output_dir) if output_dir is not None else folder
    out.mkdir(parents=True, exist_ok=True)
    plot_path: Path | None = None
    details = load_details(results_data["_path"]) if "_path" in results_data else None
    if plot:
        training = read_training_summary(folder)
        plot_path = plot_evaluation(
            out / PLOT_FILE,
            results_data,
            base_results=base_data,
            details=details,
            loss_curve=(training or {}).get("loss_curve"),
        )
    card = build_model_card(
        folder,
        results_data,
        base_results=base_data,
        plot_file=plot_path.name if plot_path else None,
        details=details,
        **card_options,
    )
    validate_model_card(card, results_data)
    readme = out / README
    card.save(readme)
    log.info("wrote %s%s", readme, f" and {plot_path}" if plot_path else "")
    return CardFiles(readme=readme, plot=plot_path, card=card)


def publish(
    model_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    results: str | os.PathLike[str] | dict[str, Any] | None = None,
    base_results: str | os.PathLike[str] | dict[str, Any] | None = None,
    version: str | None = None,
    create_pr: bool = False,
    private: bool = False,
    store: str | os.PathLike[str] | None = None,
    message: str | None = None,
    **card_options: Any,
) -> PublishResult:
    """Write the card for ``model_dir`` and push the folder to ``repo_id`` (see module docs).

    Without ``results`` the directory must already hold a ``README.md`` (a card written earlier
    by ``toolkit card``); a model is not published without its evaluation by accident.
    """
    from toolkit.errors import UsageError
    from toolkit.evaluation.results import load_results
    from toolkit.store import check_repo_id

    folder = Path(model_dir)
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise UsageError(f"repo id must look like 'org/name', got {repo_id!r}")
    check_repo_id(repo_id)  # before anything is written: a bad id fails the same everywhere
    check_model_dir(folder)
    readme: Path | None = folder / "README.md"
    plot: Path | None = None
    if results is not None:
        import json

        from toolkit.cards.model_sections import public_results
        from toolkit.store import LocalStore, resolve_target

        results_data = results if isinstance(results, dict) else load_results(results)
        written = write_model_card(
            folder,
            results_data,
            base_results=base_results,
            repo_id=repo_id,
            local_store=isinstance(resolve_target(store), LocalStore),
            **card_options,
        )
        readme, plot = written.readme, written.plot
        # Published next to the card: without the local paths a results file records.
        (folder / RESULTS_NAME).write_text(
            json.dumps(public_results(results_data), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    elif not (folder / "README.md").is_file():
        raise UsageError(
            f"{folder}: no README.md and no results given; pass results= (or --results) so the "
            "card carries the evaluation"
        )
    from toolkit.store import push_folder

    files = _publishable(folder)
    summary = message or f"Publish {repo_id.split('/')[-1]}" + (f" v{version}" if version else "")
    # Staged next to the model (same file system), so hard links work and nothing is copied.
    with tempfile.TemporaryDirectory(prefix=".toolkit-publish-", dir=folder.parent) as tmp:
        staging = Path(tmp) / folder.name
        staging.mkdir()
        _stage(folder, files, staging)
        pushed = push_folder(
            staging,
            repo_id,
            repo_type="model",
            version=version,
            create_pr=create_pr,
            private=private,
            store=store,
            message=summary,
        )
    names = [str(p.relative_to(folder)) for p in files]
    log.info(
        "published %s%s (%d files)%s",
        repo_id,
        f" v{version}" if version else "",
        len(names),
        " as a pull request" if create_pr else "",
    )
    return PublishResult(
        repo_id=repo_id, version=pushed.version, push=pushed, readme=readme, plot=plot, files=names
    )
