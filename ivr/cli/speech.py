"""``ivr speech``: the speech recognition models installed, and downloading one."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def speech() -> None:
    """Speech recognition models."""


@speech.command("models")
@click.option("--dir", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Models directory (default: $IVR_SPEECH_MODELS_DIR, else ~/.local/share/ivr/speech-models).")
def speech_models(models_dir: Path | None) -> None:
    """Installed Vosk models and the languages they serve (model packages, and the models directory)."""
    from speech.models import default_models_dir, discover
    directory = models_dir or default_models_dir()
    models = discover(directory)
    if not models:
        click.echo(f"no speech models installed (models directory {directory}): flows still work by keys")
        return
    for model in models:
        click.echo(f"{model.language:<8} {model.size_bytes() / 1e6:>7.0f} MB  {model.source}  ({model.path})")
    click.echo(f"models directory: {directory}")


@speech.command("download")
@click.argument("language", required=False)
@click.option("--name", default=None, help="A model by its catalogue name, e.g. vosk-model-small-en-us-0.15.")
@click.option("--big", is_flag=True, help="The language's big (server) model instead of the small one.")
@click.option("--dir", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to install (default: $IVR_SPEECH_MODELS_DIR, else ~/.local/share/ivr/speech-models).")
def speech_download(language: str | None, name: str | None, big: bool, models_dir: Path | None) -> None:
    """Download an official Vosk model for LANGUAGE (en, en-US, ko...), checked against the catalogue's MD5.

    Small models are chosen unless --big or --name: they are made for telephone-quality speech and load fast.
    The catalogue is $IVR_VOSK_MODELS_URL (default: alphacephei.com's model-list.json)."""
    from speech.download import DownloadError, choose, download, fetch_catalogue
    from speech.models import default_models_dir
    if not language and not name:
        raise click.UsageError("give a LANGUAGE (for example en-US) or --name")
    directory = models_dir or default_models_dir()
    try:
        model = choose(fetch_catalogue(), language or "", name=name, big=big)
        click.echo(f"{model.name}: {model.lang_text or model.lang}, {model.type}, {model.size_text or model.size} "
                   f"from {model.url}")
        with click.progressbar(length=max(model.size, 1), label="downloading", show_pos=False,
                               file=sys.stderr) as bar:
            path = download(model, directory, on_progress=bar.update)
    except DownloadError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"installed {model.name} ({model.lang}) in {path}")
