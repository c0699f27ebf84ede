"""``toolkit space``: open the chat demo (the same app as ``spaces/app.py``) for a model."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from toolkit.cli.app import app, console, fail, quiet_model_loading


def _looks_like_path(model: str) -> bool:
    """A local directory, not a Hub id (``org/name``) or an Ollama tag (``name:tag``)."""
    return (
        model.startswith((".", "/", "~"))
        or Path(model).expanduser().exists()
        or model.count("/") > 1
        or "\\" in model
    )


def _check_model_dir(model: str) -> str:
    """Resolve a local model directory, or stop with a one-line reason."""
    path = Path(model).expanduser()
    if not path.exists():
        fail(f"model directory {path} does not exist (give a directory or a Hub id org/name)")
    if not path.is_dir():
        fail(f"--model {path} is a file; give the model directory (with config.json)")
    if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        fail(
            f"{path} is not a model directory: it has neither config.json nor "
            "adapter_config.json (point --model at the training output, e.g. runs/NAME/final)"
        )
    return str(path.resolve())


@app.command("space")
def space(
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Model directory or Hub id (transformers), Ollama tag, or served model name. "
        "Default: $TOOLKIT_SPACE_MODEL or the backend's default.",
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        "-b",
        help="transformers (default), ollama or openai. Default: $TOOLKIT_SPACE_BACKEND.",
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Server URL for ollama/openai. Default: $TOOLKIT_SPACE_BASE_URL."
    ),
    system_prompt: str | None = typer.Option(
        None, "--system-prompt", help="Default system prompt."
    ),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", min=1, help="Default token limit per answer."
    ),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0.0, max=2.0, help="Default sampling temperature."
    ),
    prefilled_thinking: str | None = typer.Option(
        None,
        "--prefilled-thinking",
        help="Does the model's chat template open <think> itself? auto (default: from the "
        "template, or an R1 served name), true or false. Default: "
        "$TOOLKIT_SPACE_PREFILLED_THINKING.",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Chats that stream at once (default: per backend)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int | None = typer.Option(
        None,
        "--port",
        "-p",
        min=0,
        max=65535,
        help="Port (0: any free one). Default: $GRADIO_SERVER_PORT (Gradio's own), else 7860.",
    ),
    share: bool = typer.Option(
        False, "--share/--no-share", help="Also open a public gradio.live link (off by default)."
    ),
    preload: bool = typer.Option(
        True,
        "--preload/--no-preload",
        help="Load the model before serving, so a broken model fails here, not in the chat.",
    ),
) -> None:
    """Chat with a model in the browser: thinking streams into a panel, the answer apart."""
    import asyncio

    from toolkit.chat import SpaceSettings, build_demo
    from toolkit.chat.settings import PREFILL_SETTINGS

    if backend is not None and backend.strip().lower() not in ("transformers", "ollama", "openai"):
        fail(f"--backend {backend!r} is not one of transformers, ollama, openai")
    if prefilled_thinking is not None and prefilled_thinking.lower() not in PREFILL_SETTINGS:
        fail(f"--prefilled-thinking {prefilled_thinking!r} is not one of auto, true, false")
    settings = SpaceSettings.from_env(
        backend=backend.strip().lower() if backend else None,
        model=model,
        base_url=base_url,
        system_prompt=system_prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        prefilled_thinking=prefilled_thinking.lower() if prefilled_thinking else None,
        concurrency=concurrency,
    )
    if settings.backend == "transformers" and settings.model and _looks_like_path(settings.model):
        from dataclasses import replace

        settings = replace(settings, model=_check_model_dir(settings.model))

    if port is None:
        port = _default_port()
    if settings.backend == "transformers":
        quiet_model_loading()
    model_object = settings.build_model()
    console.print(f"[bold]toolkit space[/]: {model_object.backend} · {model_object.model}")
    if preload:
        with console.status(f"checking {settings.resolved_model} …"):
            asyncio.run(_check(model_object))
    demo = build_demo(settings, model=model_object)
    launch(demo, host=host, port=port, share=share)


def _default_port() -> int:
    """``$GRADIO_SERVER_PORT`` (the variable Gradio itself reads), else Gradio's 7860."""
    value = os.environ.get("GRADIO_SERVER_PORT", "").strip()
    if not value:
        return 7860
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        fail(f"GRADIO_SERVER_PORT={value!r} is not a port number", code=2)
    return int(value)


async def _check(model: object) -> None:
    """Load a local model, or check a server serves the model, then release the connection
    (it was opened on this event loop; Gradio serves on its own)."""
    try:
        await model.check()  # type: ignore[attr-defined]
    finally:
        if model.backend != "transformers":  # type: ignore[attr-defined]
            await model.aclose()  # type: ignore[attr-defined]


def launch(demo: object, *, host: str, port: int, share: bool) -> None:
    """Serve the app until interrupted (a seam for tests, which serve in-process instead)."""
    if port == 0:
        import socket

        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    demo.launch(server_name=host, server_port=port, share=share)  # type: ignore[attr-defined]
