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

from toolkit.cli.app import app, console, fail


def _parse_data_files(values: list[str] | None) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for value in values or []:
        task, sep, path = value.partition("=")
        if not sep or not task.strip() or not path.strip():
            fail(f"--data-file expects TASK=PATH, got {value!r}")
        parsed[task.strip()] = path.strip()
    return parsed


@app.command("eval")
def eval_command(
    model: str = typer.Argument(
        ...,
        help="Model directory or Hub id (transformers), or the served model name "
        "(--backend openai/ollama).",
    ),
    tasks: str = typer.Option(
        "math500",
        "--tasks",
        "-t",
        help="Comma-separated: gsm8k, math500, aime24, aime25, gpqa_diamond, or a dataset "
        "(path or org/name) in the trace schema.",
    ),
    n: int = typer.Option(1, "-n", "--num-samples", min=1, help="Samples per problem."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="First N problems per task."),
    backend: str = typer.Option(
        "transformers",
        "--backend",
        "-b",
        help="transformers, openai, ollama, or lighteval (optional adapter, 'eval' extra).",
    ),
    max_new_tokens: int = typer.Option(
        32768, "--max-new-tokens", min=1, help="Generation limit (reasoning + answer)."
    ),
    temperature: float = typer.Option(0.6, "--temperature", help="Sampling temperature."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling top-p."),
    greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding (forces n=1)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="transformers batch size."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="transformers on CPU: torch threads (1 on a busy machine)."
    ),
    data_file: list[str] | None = typer.Option(
        None, "--data-file", help="TASK=PATH local file for a task (repeatable; offline use)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="openai: server URL (default http://127.0.0.1:8000/v1)."
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="openai: environment variable holding the key."
    ),
    host: str | None = typer.Option(None, "--host", help="ollama: server URL."),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="openai/ollama: tokenizer for exact thinking-token counts."
    ),
    concurrency: int = typer.Option(16, "--concurrency", min=1, help="Server requests in flight."),
    system_prompt: str | None = typer.Option(None, "--system-prompt", help="System message."),
    prefilled_thinking: bool | None = typer.Option(
        None,
        "--prefilled-thinking/--no-prefilled-thinking",
        help="Server backends: the served template opens <think> itself.",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for results + details."),
) -> None:
    """Evaluate a model: pass@1 over n samples (± stderr), pass@k, maj@n, reasoning statistics."""
    from toolkit.evaluate import evaluate
    from toolkit.evaluate.results import comparison_table

    options: dict[str, object] = {}
    if backend == "openai":
        options.update(
            base_url=base_url or "http://127.0.0.1:8000/v1",
            api_key_env=api_key_env,
            tokenizer=tokenizer,
            concurrency=concurrency,
        )
    elif backend == "ollama":
        options.update(host=host, tokenizer=tokenizer, concurrency=concurrency)
    elif backend == "transformers" and threads:
        options["num_threads"] = threads
    elif backend == "lighteval":
        _run_lighteval(model, tasks, output, max_new_tokens, temperature, top_p, limit)
        return
    elif backend != "transformers":
        fail(f"unknown backend {backend!r}; use transformers, openai, ollama or lighteval")
    try:
        evaluation = evaluate(
            model,
            tasks,
            n=n,
            limit=limit,
            backend=backend,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            greedy=greedy,
            seed=seed,
            batch_size=batch_size,
            data_files=_parse_data_files(data_file),
            output_dir=output,
            system_prompt=system_prompt,
            prefilled_thinking=prefilled_thinking,
            backend_options={k: v for k, v in options.items() if v is not None},
        )
    except (ValueError, KeyError, FileNotFoundError, RuntimeError, OSError) as error:
        fail(str(error).strip("'\""))
    console.print(comparison_table([evaluation.results]))
    console.print(f"[green]wrote[/] {evaluation.results_path} and {evaluation.details_path}")


def _run_lighteval(
    model: str,
    tasks: str,
    output: Path,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    limit: int | None,
) -> None:
    from toolkit.evaluate.lighteval_adapter import run_lighteval

    try:
        results = run_lighteval(
            model,
            [t.strip() for t in tasks.split(",") if t.strip()],
            output_dir=output,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            limit=limit,
        )
    except (ImportError, ValueError) as error:
        fail(str(error))
    from toolkit.evaluate.results import comparison_table

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
    license_id: str = typer.Option("apache-2.0", "--license", help="License id."),
    dataset: list[str] | None = typer.Option(
        None, "--dataset", help="Training dataset Hub id (repeatable; default: from the summary)."
    ),
    space_url: str | None = typer.Option(None, "--space-url", help="URL of a running demo."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Directory for README.md + plot (default: MODEL_DIR)."
    ),
) -> None:
    """Write README.md (model card with a validated model-index eval table) and eval_plot.png."""
    from toolkit.cards.model_card import write_model_card

    try:
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
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
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
    license_id: str = typer.Option("apache-2.0", "--license", help="License id for the card."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
) -> None:
    """Push weights, model card, plot and results to the Hub (or the local store), tag a version."""
    from toolkit.publish import publish

    try:
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
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as error:
        fail(str(error))
    push = published.push
    where = push.pr_url or push.url_or_path
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
    from toolkit.evaluate.results import comparison_markdown, comparison_table, load_results

    try:
        loaded = [load_results(path) for path in results]
    except (ValueError, FileNotFoundError) as error:
        fail(str(error))
    if markdown:
        typer.echo(comparison_markdown(loaded))
    else:
        from rich.console import Console

        Console().print(comparison_table(loaded))  # stdout: the table is the command's output
