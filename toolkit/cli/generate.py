"""``toolkit generate INPUT --backend openai --base-url URL --model M -n 4 -o OUT``: teacher traces.

Re-running the same command resumes (finished samples are kept, failed ones retried);
``--shard i/N`` splits the problems across machines and ``--merge`` joins the shard outputs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app, console, fail


@app.command("generate")
def generate_command(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT",
        help="Problems: a schema dataset or any table with a problem column (jsonl, json, "
        "parquet, csv, Arrow dir, Hub id). With --merge: the shard outputs to join.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Final table: .parquet, .jsonl/.json, or an Arrow directory."
    ),
    backend: str = typer.Option(
        "openai", "--backend", "-b", help="Teacher backend: openai, ollama, transformers."
    ),
    base_url: list[str] = typer.Option(
        [],
        "--base-url",
        help="Server URL (OpenAI-compatible: .../v1; Ollama: http://host:11434). Repeat for "
        "several endpoints serving the same model (least-busy dispatch).",
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Teacher model name (or local dir for transformers)."
    ),
    n: int = typer.Option(4, "-n", "--samples", min=1, help="Samples per problem."),
    template: str = typer.Option(
        "open-r1",
        "--template",
        help="Prompt template: open-r1, sky-t1, plain, a Jinja file, or inline Jinja.",
    ),
    system_prompt: str | None = typer.Option(
        None, "--system-prompt", help="Replace the template's system prompt (text or file)."
    ),
    problem_field: str | None = typer.Option(
        None, "--problem-field", help="Column with the problem (default: problem/question/...)."
    ),
    id_field: str | None = typer.Option(
        None, "--id-field", help="Column with a stable problem id (default: hash of the text)."
    ),
    gold_field: str | None = typer.Option(
        None, "--gold-field", help="Column with the reference answer (stored as gold_answer)."
    ),
    split: str | None = typer.Option(None, "--split", help="Split to load (default: train)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N problems."),
    temperature: float = typer.Option(0.6, "--temperature", min=0.0),
    top_p: float = typer.Option(0.95, "--top-p", min=0.0, max=1.0),
    max_tokens: int = typer.Option(4096, "--max-tokens", min=1),
    seed: int | None = typer.Option(None, "--seed", help="Base seed (per-sample seeds derive)."),
    concurrency: int = typer.Option(64, "--concurrency", "-c", min=1, help="Requests in flight."),
    requests_per_minute: float | None = typer.Option(None, "--rpm", help="Requests/min limit."),
    tokens_per_minute: float | None = typer.Option(None, "--tpm", help="Tokens/min limit."),
    max_retries: int = typer.Option(8, "--max-retries", min=0),
    timeout: float = typer.Option(1800.0, "--timeout", help="Per-request timeout (seconds)."),
    stream: bool = typer.Option(False, "--stream", help="Stream completions (long outputs)."),
    shard: str | None = typer.Option(None, "--shard", help="Take shard i of N problems: i/N."),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="Resumable run state (default: OUTPUT.state next to OUTPUT)."
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Env variable holding the API key (never logged)."
    ),
    transport: str = typer.Option(
        "httpx", "--transport", help="openai backend: lean 'httpx' or the official 'openai' client."
    ),
    native_n: bool = typer.Option(
        True, "--native-n/--no-native-n", help="openai backend: ask for n choices per request."
    ),
    think: bool = typer.Option(True, "--think/--no-think", help="ollama backend: think=true."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="transformers: batch size."),
    price_in: float | None = typer.Option(
        None, "--price-per-mtok-in", help="USD per million prompt tokens (cost estimate)."
    ),
    price_out: float | None = typer.Option(
        None, "--price-per-mtok-out", help="USD per million completion tokens (cost estimate)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    merge: bool = typer.Option(False, "--merge", help="Join shard outputs (INPUT...) into -o."),
) -> None:
    """Generate N teacher traces per problem into the trace schema (concurrent, resumable)."""
    from toolkit.generate import GenerationError, generate, merge_shards, parse_shard

    if merge:
        try:
            merged = merge_shards(inputs, output)
        except (GenerationError, ValueError, FileNotFoundError) as error:
            fail(str(error))
        console.print(f"merged {len(inputs)} shard(s): {len(merged)} rows → {output}")
        return
    if len(inputs) != 1:
        fail(f"expected one INPUT, got {len(inputs)} (use --merge to join shard outputs)")
    if not model:
        fail("--model is required (the teacher model name, or a local dir for transformers)")
    teacher_options: dict[str, object] = {}
    if backend == "openai":
        teacher_options = {"api_key_env": api_key_env, "transport": transport, "native_n": native_n}
    elif backend == "ollama":
        teacher_options = {"think": think}
    elif backend == "transformers":
        teacher_options = {"batch_size": batch_size}
    try:
        result = generate(
            inputs[0],
            backend,
            model=model,
            base_url=base_url,
            n=n,
            output=output,
            state_dir=state_dir,
            split=split,
            limit=limit,
            teacher_options=teacher_options,
            return_summary=True,
            template=template,
            system_prompt=system_prompt,
            problem_field=problem_field,
            id_field=id_field,
            gold_field=gold_field,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            concurrency=concurrency,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            max_retries=max_retries,
            request_timeout=timeout,
            stream=stream,
            shard=parse_shard(shard),
            progress=progress,
            price_per_mtok_in=price_in,
            price_per_mtok_out=price_out,
        )
    except (GenerationError, ValueError, FileNotFoundError) as error:
        fail(str(error))
    summary = result.summary  # type: ignore[union-attr]
    console.print(f"[bold]generate:[/] {summary.line()}")
    console.print(f"wrote {len(result.dataset)} rows → {output} (state: {summary.state_dir})")  # type: ignore[union-attr]
    if summary.failed:
        console.print(
            f"[yellow]{summary.failed} sample(s) failed; see {summary.state_dir}/errors.jsonl. "
            "Re-run the same command to retry them.[/]"
        )
        raise typer.Exit(2)
