"""``toolkit push`` and ``toolkit load``: versioned datasets on the Hub or the local store.

User errors (a bad id or version, a store path that is a file, the Hub offline or refusing) are
:class:`toolkit.errors.ToolkitError` and reach the CLI's error boundary as one line and a hint.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app, check_output_file, console, print_json


@app.command("push")
def push_command(
    input_source: str = typer.Argument(..., metavar="INPUT", help="Dataset file/dir to publish."),
    repo_id: str = typer.Argument(..., metavar="REPO_ID", help="Target repository, org/name."),
    version: str | None = typer.Option(
        None, "--version", help="Version (e.g. 1.2.0); default: next patch version."
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="'hub', or a local store directory (default: $TOOLKIT_TARGET=hub → Hub, "
        "else $TOOLKIT_STORE).",
    ),
    license: str | None = typer.Option(
        None,
        "--license",
        help="Licence for the dataset card (Hub id, e.g. apache-2.0, mit, cc-by-4.0); required "
        "unless every source is a dataset with a known licence.",
    ),
    branch: str | None = typer.Option(None, "--branch", help="Commit to this branch."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead."),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo as private."),
    no_card: bool = typer.Option(False, "--no-card", help="Do not write a dataset card."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    lineage: Path | None = typer.Option(
        None, "--lineage", help="Lineage JSON (default: INPUT.lineage.json when present)."
    ),
    folder: bool = typer.Option(
        False, "--folder", help="Publish INPUT as a folder (model weights, card, plots)."
    ),
    repo_type: str = typer.Option("model", "--repo-type", help="With --folder: model/dataset."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Publish a new version (a commit + tag v<version>); identical content is not re-pushed."""
    from toolkit.curate.lineage import parse_lineage, read_lineage
    from toolkit.store import check_repo_id, check_version, push, push_folder, resolve_target

    check_repo_id(repo_id)  # argument mistakes first, before any file is read
    check_version(version)
    target = resolve_target(store)
    if folder:
        result = push_folder(
            input_source,
            repo_id,
            repo_type=repo_type,
            version=version,
            create_pr=create_pr,
            private=private,
            store=target,
            message=message,
            branch=branch,
        )
    else:
        from toolkit.io import load_table

        dataset = load_table(input_source)
        steps = (
            parse_lineage(lineage.read_text(encoding="utf-8"), lineage)
            if lineage is not None
            else read_lineage(input_source)
        )
        result = push(
            dataset,
            repo_id,
            version,
            card=not no_card,
            license=license,
            private=private,
            branch=branch,
            create_pr=create_pr,
            store=target,
            message=message,
            lineage=steps,
        )
    if json_output:
        print_json(
            {
                "repo_id": repo_id,
                "version": result.version,
                "revision": result.revision,
                "created": result.created,
                "target": result.target,
                "location": str(result.url_or_path),
                "pr_url": result.pr_url,
            }
        )
        return
    if result.created:
        console.print(
            f"pushed {repo_id} version {result.version} ({result.revision[:12]}) → "
            f"{result.url_or_path}"
        )
    else:
        console.print(
            f"{repo_id}: identical content already published as version {result.version} "
            f"({result.revision[:12]}); nothing pushed"
        )
    typer.echo(result.version or "")


@app.command("load")
def load_command(
    repo_id: str = typer.Argument(..., metavar="REPO_ID", help="Repository, org/name."),
    version: str | None = typer.Option(None, "--version", help="Version; default: the latest."),
    split: str = typer.Option("train", "--split", help="Split to load."),
    store: str | None = typer.Option(None, "--store", help="'hub' or a local store directory."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the split here (.parquet, .jsonl, Arrow dir)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Load a pushed dataset version; print a summary or write it to a file."""
    from toolkit.io import write_table
    from toolkit.store import load

    if output is not None:
        check_output_file(output)
    dataset = load(repo_id, version, split=split, store=store)
    label = f"{repo_id}@{'v' + version if version else 'latest'}"
    if json_output:
        written = write_table(dataset, output) if output is not None else None
        print_json(
            {
                "repo_id": repo_id,
                "version": version,
                "split": split,
                "rows": len(dataset),
                "columns": dataset.column_names,
                "output": str(written) if written else None,
            }
        )
        return
    if output is not None:
        written = write_table(dataset, output)
        console.print(f"wrote {len(dataset)} rows of {label} ({split}) to {written}")
    else:
        console.print(
            f"{label} ({split}): {len(dataset)} rows; columns: {', '.join(dataset.column_names)}"
        )
