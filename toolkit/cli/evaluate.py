"""``toolkit eval``, ``toolkit card``, ``toolkit publish`` and ``toolkit compare``.

* ``toolkit eval MODEL --tasks math500,gsm8k -n 4 [--limit N] -o OUTDIR`` — results.json and
  details.parquet with an explicit protocol;
* ``toolkit card MODEL_DIR --results results.json [--base-results base.json]`` — README.md with
  the eval table as validated ``model-index`` metadata, and eval_plot.png;
* ``toolkit publish MODEL_DIR org/name --results results.json [--version 1.0.0] [--create-pr]``;
* ``toolkit compare a/results.json b/results.json [--markdown]``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.backends.config import ModelConfig
from toolkit.cli.app import (
    app,
    check_output_dir,
    console,
    print_json,
    quiet_model_loading,
)
from toolkit.cli.options import with_config
from toolkit.errors import UsageError
from toolkit.evaluation.sampling import EvalConfig


@app.command("eval")
@with_config(
    config=EvalConfig,
    model=ModelConfig,
    defaults={"model": {"backend": "transformers"}},
    exclude={"model": {"model"}},
)
def eval_command(
    model_name: str = typer.Argument(
        ...,
        metavar="MODEL",
        help="Model directory, Hub id, store id (org/name[@version]) or alias (smollm2) for "
        "transformers, or the served model name (--backend openai/ollama).",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Directory for results.json, details.parquet and state/."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Servers: tokenizer for exact thinking-token counts."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print results.json to stdout."),
    *,
    config: EvalConfig,
    model: ModelConfig,
) -> None:
    """Evaluate a model: pass@1 over n samples (± stderr), pass@k, maj@n, reasoning statistics.

    Re-running the same command with the same -o resumes: finished samples are kept.
    """
    from toolkit.evaluation import evaluate
    from toolkit.evaluation.results import comparison_table

    check_output_dir(output)
    if model.backend == "lighteval":
        _run_lighteval(model_name, config, output)
        return
    if model.backend == "transformers":
        quiet_model_loading()
    model.model = model_name
    built = model.build(timeout=config.request_timeout)
    if tokenizer:
        _attach_tokenizer(built, tokenizer)
    evaluation = evaluate(
        built,
        config.tasks,
        config=config,
        output_dir=output,
        prefilled_thinking=model.prefilled_thinking,
    )
    if json_output:
        print_json(evaluation.results)
    else:
        console.print(comparison_table([evaluation.results]))
        _truncation_notes(evaluation.results)
        console.print(f"[green]wrote[/] {evaluation.results_path} and {evaluation.details_path}")
    if evaluation.incomplete is not None:
        raise evaluation.incomplete


def _truncation_notes(results: dict) -> None:
    """Say when the token limit, not the model, decided a score (a CPU run's usual trap)."""
    limit = results["protocol"].get("max_new_tokens")
    for task, entry in results["tasks"].items():
        share = (entry.get("reasoning") or {}).get("share_truncated") or 0
        if share:
            console.print(
                f"[yellow]note:[/] {task}: {100 * share:.0f}% of the samples stopped at "
                f"max_new_tokens={limit}; raise --max-new-tokens before trusting the score"
            )


def _attach_tokenizer(model: object, tokenizer: str) -> None:
    """Exact token counts for a served model: count with its tokenizer, loaded locally."""
    from transformers import AutoTokenizer

    from toolkit.models import resolve_model

    loaded = AutoTokenizer.from_pretrained(resolve_model(tokenizer))
    model.count_tokens = lambda text: (  # type: ignore[attr-defined]
        len(loaded(text, add_special_tokens=False)["input_ids"]) if text else 0
    )


def _run_lighteval(model: str, config: EvalConfig, output: Path) -> None:
    from toolkit.evaluation.lighteval_adapter import run_lighteval

    try:
        results = run_lighteval(
            model,
            [t.strip() for t in config.tasks.split(",") if t.strip()],
            output_dir=output,
            max_new_tokens=config.max_new_tokens or 32768,
            temperature=config.temperature,
            top_p=config.top_p,
            limit=config.limit,
        )
    except ImportError as error:
        raise UsageError(str(error), hint="pip install 'r1-distill-toolkit[eval]'") from None
    from toolkit.evaluation.results import comparison_table

    console.print(comparison_table([results]))


@app.command("card")
def card_command(
    model_dir: Path = typer.Argument(..., help="The trained model directory."),
    results: Path = typer.Option(..., "--results", "-r", help="results.json of this model."),
    base_results: Path | None = typer.Option(
        None, "--base-results", help="results.json of the base model (same protocol)."
    ),
    repo_id: str | None = typer.Option(None, "--repo-id", help="org/name used in usage snippets."),
    base_model: str | None = typer.Option(None, "--base-model", help="Base model Hub id."),
    license_id: str | None = typer.Option(
        None,
        "--license",
        help="Licence id (apache-2.0, mit, llama3.1, other …); default: the base model's, when "
        "it is a known one (otherwise required).",
    ),
    dataset: list[str] | None = typer.Option(
        None, "--dataset", help="Training dataset Hub id (repeatable; default: from the summary)."
    ),
    space_url: str | None = typer.Option(None, "--space-url", help="URL of a running demo."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Directory for README.md + plot (default: MODEL_DIR)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write README.md (model card with a validated model-index eval table) and eval_plot.png."""
    from toolkit.publishing import write_model_card

    if output is not None:
        check_output_dir(output)
    written = write_model_card(
        model_dir,
        results,
        base_results=base_results,
        output_dir=output,
        repo_id=repo_id,
        base_model=base_model,
        license=license_id,
        datasets=dataset or None,
        space_url=space_url,
    )
    if json_output:
        print_json(
            {
                "readme": str(written.readme),
                "plot": str(written.plot) if written.plot else None,
                "license": written.card.data.license,
            }
        )
        return
    console.print(
        f"[green]wrote[/] {written.readme}" + (f" and {written.plot}" if written.plot else "")
    )


@app.command("publish")
def publish_command(
    model_dir: Path = typer.Argument(..., help="The trained model directory."),
    repo_id: str = typer.Argument(..., help="Destination repository, org/name."),
    results: Path | None = typer.Option(None, "--results", "-r", help="results.json to publish."),
    base_results: Path | None = typer.Option(
        None, "--base-results", help="results.json of the base model, for the comparison."
    ),
    version: str | None = typer.Option(None, "--version", help="Version tag, e.g. 1.0.0."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a PR instead of pushing."),
    private: bool = typer.Option(False, "--private", help="Create the repository private."),
    store: str | None = typer.Option(
        None, "--store", help="Local store directory, or 'hub' (default: $TOOLKIT_TARGET / store)."
    ),
    license_id: str | None = typer.Option(
        None,
        "--license",
        help="Licence id for the card; default: the base model's, when it is a known one "
        "(otherwise required with --results).",
    ),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Push weights, model card, plot and results to the Hub (or the local store), tag a version."""
    from toolkit.publishing import publish

    published = publish(
        model_dir,
        repo_id,
        results=results,
        base_results=base_results,
        version=version,
        create_pr=create_pr,
        private=private,
        store=store,
        message=message,
        license=license_id,
    )
    push = published.push
    where = push.pr_url or push.url_or_path
    if json_output:
        print_json(
            {
                "repo_id": published.repo_id,
                "version": push.version,
                "revision": push.revision,
                "created": push.created,
                "target": push.target,
                "location": str(where),
                "files": published.files,
            }
        )
        return
    state = "published" if push.created else "unchanged (identical to)"
    console.print(
        f"[green]{state}[/] {published.repo_id} v{push.version} at {where} "
        f"(commit {push.revision[:12]}, {len(published.files)} files)"
    )


@app.command("compare")
def compare_command(
    results: list[Path] = typer.Argument(..., help="results.json files (or their directories)."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table."),
) -> None:
    """Compare result files side by side: headline metric ± stderr per task and protocol."""
    from toolkit.evaluation.results import comparison_markdown, comparison_table, load_results

    loaded = [load_results(path) for path in results]
    if markdown:
        typer.echo(comparison_markdown(loaded))
    else:
        from rich.console import Console

        Console().print(comparison_table(loaded))  # stdout: the table is the command's output
