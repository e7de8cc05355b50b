"""Downloading official Vosk models from a real (loopback) HTTP server: catalogue, choice, progress, checksum,
safe unpacking, and the command line."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile

import pytest
from click.testing import CliRunner

from ivr.cli import main
from speech.download import (CatalogueModel, ChecksumMismatch, UnknownLanguage, UnsafeArchive, choose, download,
                             fetch_catalogue)
from speech.models import discover

MODEL_NAME = "vosk-model-small-xx-yy-0.3"


def model_zip(top: str = MODEL_NAME, extra: dict[str, bytes] | None = None) -> bytes:
    """A small archive shaped like an official one: one top-level directory with am/, conf/, graph/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/", b"")
        zf.writestr(f"{top}/am/final.mdl", b"\x00acoustic model" * 200)
        zf.writestr(f"{top}/conf/model.conf", b"--sample-frequency=16000\n")
        zf.writestr(f"{top}/graph/words.txt", "안녕 1\n".encode())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def entry(name: str, lang: str, archive: bytes, *, type_: str = "small", obsolete: str = "false",
          version: str = "0.3", md5: str | None = None) -> dict:
    return {"lang": lang, "lang_text": f"Test {lang}", "md5": md5 or hashlib.md5(archive).hexdigest(),
            "name": name, "obsolete": obsolete, "size": len(archive), "size_text": f"{len(archive) / 1024:.1f}KiB",
            "type": type_, "url": f"/files/{name}.zip", "version": version}


class Catalogue:
    """A loopback server with a model-list.json and the archives it names."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.models: list[dict] = []
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/vosk/model-list.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, name: str, lang: str, archive: bytes, **kwargs) -> dict:
        self.files[f"/files/{name}.zip"] = archive
        self.models.append(entry(name, lang, archive, **kwargs))
        return self.models[-1]

    def _handler(self):
        catalogue = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/vosk/model-list.json":
                    body = json.dumps(catalogue.models).encode()
                elif self.path in catalogue.files:
                    body = catalogue.files[self.path]
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def catalogue(monkeypatch):
    server = Catalogue()
    monkeypatch.setenv("IVR_VOSK_MODELS_URL", server.url)
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_the_small_current_model_of_a_language_is_chosen():
    def model(name, lang, type_="small", obsolete=False, version="0.1"):
        return CatalogueModel(name, lang, lang, version, type_, obsolete, f"http://x/{name}.zip", 1, "", "")
    listed = [model("vosk-model-small-en-us-0.15", "en-us", version="0.15"),
              model("vosk-model-small-en-us-0.3", "en-us", obsolete=True, version="0.3"),
              model("vosk-model-en-us-0.22", "en-us", "big", version="0.22"),
              model("vosk-model-small-en-in-0.4", "en-in", version="0.4"),
              model("vosk-model-spk-0.4", "en", "spk", version="0.4"),
              model("vosk-model-small-cn-0.22", "cn", version="0.22")]
    assert choose(listed, "en").name == "vosk-model-small-en-us-0.15"
    assert choose(listed, "en-US").name == "vosk-model-small-en-us-0.15"
    assert choose(listed, "en-IN").name == "vosk-model-small-en-in-0.4"
    assert choose(listed, "en", big=True).name == "vosk-model-en-us-0.22"
    assert choose(listed, "zh-CN").name == "vosk-model-small-cn-0.22"
    assert choose(listed, "fr", name="vosk-model-small-en-in-0.4").name == "vosk-model-small-en-in-0.4"
    with pytest.raises(UnknownLanguage, match=r"no Vosk model for fr-FR; the catalogue has: cn, en-in, en-us"):
        choose(listed, "fr-FR")


def test_a_model_is_downloaded_checked_and_then_discovered(catalogue, tmp_path):
    archive = model_zip()
    catalogue.add(MODEL_NAME, "xx-yy", archive)
    catalogue.add("vosk-model-small-xx-yy-0.1", "xx-yy", model_zip("vosk-model-small-xx-yy-0.1"), obsolete="true")
    listed = fetch_catalogue()
    assert listed[0].url == catalogue.url.replace("vosk/model-list.json", f"files/{MODEL_NAME}.zip")
    progress: list[int] = []
    path = download(choose(listed, "xx"), tmp_path, on_progress=progress.append)
    assert path == tmp_path / MODEL_NAME and sum(progress) == len(archive)
    found = [m for m in discover(tmp_path) if m.path == path]
    assert [(m.language, m.source) for m in found] == [("xx-yy", f"downloaded {MODEL_NAME}")]
    assert found[0].serves("xx-YY") and found[0].serves("xx")
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_NAME]  # no temporary files left behind
    assert download(choose(listed, "xx"), tmp_path) == path  # already installed: nothing fetched again


def test_a_checksum_mismatch_deletes_the_download(catalogue, tmp_path):
    catalogue.add(MODEL_NAME, "xx", model_zip(), md5="0" * 32)
    with pytest.raises(ChecksumMismatch, match="does not match the catalogue's 0000"):
        download(choose(fetch_catalogue(), "xx"), tmp_path)
    assert list(tmp_path.iterdir()) == [] and discover(tmp_path) == discover(tmp_path / "none")


def test_a_wrong_size_is_refused_too(catalogue, tmp_path):
    archive = model_zip()
    listed = catalogue.add(MODEL_NAME, "xx", archive)
    listed["size"] = len(archive) - 10
    with pytest.raises(ChecksumMismatch, match="more than the catalogue's"):
        download(choose(fetch_catalogue(), "xx"), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("member", ["../escaped.txt", f"{MODEL_NAME}/../../escaped.txt", "/tmp/absolute.txt"])
def test_archive_members_escaping_the_directory_are_refused(catalogue, tmp_path, member):
    target = tmp_path / "models"
    catalogue.add(MODEL_NAME, "xx", model_zip(extra={member: b"owned"}))
    with pytest.raises(UnsafeArchive, match="would be written outside"):
        download(choose(fetch_catalogue(), "xx"), target)
    assert list(target.iterdir()) == [] and not (tmp_path / "escaped.txt").exists()


def test_an_archive_without_a_model_is_refused(catalogue, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", b"not a model")
    catalogue.add(MODEL_NAME, "xx", buffer.getvalue())
    with pytest.raises(UnsafeArchive, match="holds no Vosk model"):
        download(choose(fetch_catalogue(), "xx"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_downloads_then_lists_the_model(catalogue, tmp_path):
    catalogue.add(MODEL_NAME, "xx-yy", model_zip())
    runner = CliRunner()
    result = runner.invoke(main, ["speech", "download", "xx", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"installed {MODEL_NAME} (xx-yy) in {tmp_path / MODEL_NAME}" in result.output
    listed = runner.invoke(main, ["speech", "models", "--dir", str(tmp_path)])
    assert listed.exit_code == 0
    assert any(line.startswith("xx-yy ") and f"downloaded {MODEL_NAME}" in line for line in listed.output.splitlines())


def test_cli_errors_are_clear_and_exit_1(catalogue, tmp_path, monkeypatch):
    catalogue.add(MODEL_NAME, "xx", model_zip())
    runner = CliRunner()
    unknown = runner.invoke(main, ["speech", "download", "fr-FR", "--dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "no Vosk model for fr-FR; the catalogue has: xx" in unknown.output
    (tmp_path / "a-file").write_text("")
    unwritable = runner.invoke(main, ["speech", "download", "xx", "--dir", str(tmp_path / "a-file" / "models")])
    assert unwritable.exit_code == 1 and f"cannot install {MODEL_NAME} in" in unwritable.output
    monkeypatch.setenv("IVR_VOSK_MODELS_URL", "http://127.0.0.1:9/model-list.json")  # nothing listens there
    offline = runner.invoke(main, ["speech", "download", "xx", "--dir", str(tmp_path)])
    assert offline.exit_code == 1 and "cannot fetch the model catalogue" in offline.output
