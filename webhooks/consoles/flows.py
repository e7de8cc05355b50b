"""Flows in the browser (supervisors): the live version and its history, flow diagrams, a YAML editor whose
drafts are checked exactly as ``ivr flows check`` checks files, review-and-publish with a diff, and rollback.

Pages live under ``/flows``; the editor's JSON endpoints under ``/api/flows`` (so errors come back as JSON).
Publishing goes through :class:`~ivr.services.publishing.FlowRepository` like ``ivr flows publish``, so its hooks run
(prompt rendering, queue settings). Every change carries the version it was based on: when another version went
live meanwhile it is refused (409) rather than silently undoing someone else's work.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import yaml
from flask import Blueprint, Flask, abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from ivr.errors import Diagnostic, FlowError, StaleVersionError, StoreError
from ivr.flowlang.check import check_sources
from ivr.flowlang.diagram import DiagramCache, DiagramError, edges, node_id, render_svg, to_dot
from ivr.flowlang.edit import DraftError, check_file_name, diff, draft, summaries, without
from ivr.flowlang.model import Bundle
from ivr.store.accounts import Role
from webhooks.auth import role_required, signed_in_account
from webhooks.consoles.pages import add_nav

bp = Blueprint("flows", __name__)
#: Endpoint of the "try this draft" page (built separately); the editor offers it only when it exists.
TRY_ENDPOINT = "tryflow.start"
CACHE_KEY = "ivr_flow_diagrams"


def init_app(app: Flask) -> None:
    """Register the pages, link them in the supervisors' navigation, and give the app a diagram cache."""
    app.register_blueprint(bp)
    app.extensions[CACHE_KEY] = DiagramCache()
    add_nav(app, "flows.index", "Flows", Role.SUPERVISOR)

    @app.template_filter("utc")
    def utc(epoch: float | None) -> str:
        if not epoch:
            return ""
        return datetime.fromtimestamp(float(epoch), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- helpers -----------------------------------------------------------------------------------------------------
def _repo() -> Any:
    return current_app.extensions["ivr"].repo


def _live() -> tuple[int | None, dict[str, str]]:
    version = _repo().store.current_version()
    return version, (_repo().store.get(version) if version is not None else {})


def _bundle_or_404(version: int) -> Bundle:
    try:
        return _repo().bundle(version)
    except StoreError:
        abort(404)
    except FlowError:  # stored long ago under older rules: still shown, but not drawn
        abort(404)


def _flow_to_draw(flow: str) -> tuple[int, Bundle]:
    """The version asked for (``?version=``, default the live one) and its bundle, which has ``flow``; else 404."""
    version = _version_arg()
    bundle = _bundle_or_404(version)
    if flow not in bundle.flows:
        abort(404)
    return version, bundle


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    return {"file": d.file, "line": d.line, "path": d.path, "message": d.message, "severity": d.severity.value,
            "text": str(d)}


def _check(sources: Mapping[str, str]) -> list[Diagnostic]:
    """The same diagnostics ``ivr flows check`` prints for these files (with this server's speech models)."""
    settings = current_app.config["IVR_SETTINGS"]
    return check_sources(sources, models_dir=settings.speech_models_dir, service_urls=settings.services)


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.status = status
        self.extra = extra


def _draft_from_request() -> tuple[int, dict[str, str], dict[str, str], str, dict[str, Any]]:
    """(base version, its sources, the draft bundle, the file, the JSON body) of an editor request."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _BadRequest("send a JSON object with 'base', 'file' and 'source'")
    base = body.get("base")
    if not isinstance(base, int) or isinstance(base, bool) or base < 1:
        raise _BadRequest("'base' must be the version number the edit started from")
    try:
        base_sources = _repo().store.get(base)
    except StoreError:
        raise _BadRequest(f"there is no flow version {base}", 404) from None
    try:
        file = check_file_name(body.get("file") if isinstance(body.get("file"), str) else "")
        if body.get("delete") is True:
            drafted = without(base_sources, file)
        else:
            drafted = draft(base_sources, file, body.get("source"))  # type: ignore[arg-type]
    except DraftError as e:
        raise _BadRequest(str(e)) from None
    return base, base_sources, drafted, file, body


def _stale(base: int, live: int | None) -> tuple[Any, int]:
    error = StaleVersionError(base, live)
    return jsonify(error=str(error), live_version=live, base=base), 409


@bp.errorhandler(_BadRequest)
def _bad_request(error: _BadRequest) -> Any:
    return jsonify(error=str(error), **error.extra), error.status


# -- pages -------------------------------------------------------------------------------------------------------
@bp.get("/flows")
@role_required(Role.SUPERVISOR)
def index() -> Any:
    """The live version's files and the history of publishes and rollbacks."""
    version, sources = _live()
    files = []
    if version is not None:
        try:
            files = summaries(_repo().bundle(version), sources)
        except FlowError:  # published under older rules: the history (and rollback) still work
            files = []
    return render_template("flows/index.html", title="Flows", version=version, files=files,
                           history=_repo().store.history(limit=50))


@bp.get("/flows/diagram/<flow>")
@role_required(Role.SUPERVISOR)
def diagram(flow: str) -> Any:
    """One flow drawn as a graph (default: in the live version)."""
    version, bundle = _flow_to_draw(flow)
    model = bundle.flows[flow]
    error = None
    try:
        svg = _svg(version, bundle, flow)
    except DiagramError as e:
        svg, error = None, str(e)
    nodes = [{"name": name, "kind": node.kind.value, "line": node.line, "id": node_id(name)}
             for name, node in model.nodes.items()]
    return render_template("flows/diagram.html", title=f"Flow {flow}", flow=model, version=version, svg=svg,
                           error=error, nodes=nodes, edge_count=len(edges(model)),
                           live=_repo().store.current_version()), 503 if error else 200


@bp.get("/flows/diagram/<flow>.svg")
@role_required(Role.SUPERVISOR)
def diagram_svg(flow: str) -> Any:
    """The diagram alone, as an SVG document."""
    version, bundle = _flow_to_draw(flow)
    try:
        svg = _svg(version, bundle, flow)
    except DiagramError as e:
        return jsonify(error=str(e)), 503
    return current_app.response_class(svg, mimetype="image/svg+xml",
                                      headers={"Content-Security-Policy": "default-src 'none'",
                                               "X-Content-Type-Options": "nosniff"})


@bp.get("/flows/edit/<file>")
@role_required(Role.SUPERVISOR)
def edit(file: str) -> Any:
    """The editor on one file of the live version."""
    version, sources = _live()
    if file not in sources:
        abort(404)
    return _editor(version, file, sources[file], new=False)


@bp.get("/flows/new")
@role_required(Role.SUPERVISOR)
def new() -> Any:
    """The editor on a new file, to be added to the live version's files."""
    version, _sources = _live()
    template = ("# A new flow: its nodes, the first one answers.\nlanguage: en-US\n\nnodes:\n  hello:\n"
                "    say: \"Hello.\"\n    next: goodbye\n  goodbye:\n    hangup: true\n")
    return _editor(version, "", template, new=True)


def _editor(version: int | None, file: str, source: str, *, new: bool) -> Any:
    if version is None:
        return render_template("error.html", title="Nothing published yet",
                               message="Publish the flows directory first (ivr flows publish)."), 409
    line = request.args.get("line", "")
    return render_template("flows/edit.html", title=f"Edit {file}" if file else "New flow file", file=file,
                           source=source, version=version, new=new, line=int(line) if line.isdigit() and len(line) <= 6 else 0,
                           can_try=TRY_ENDPOINT in current_app.view_functions, try_endpoint=TRY_ENDPOINT)


@bp.route("/flows/rollback/<int:version>", methods=["GET", "POST"])
@role_required(Role.SUPERVISOR)
def rollback(version: int) -> Any:
    """GET: what rolling back to ``version`` changes; POST (confirmed, with the live version it was based on):
    make it live again."""
    live, live_sources = _live()
    try:
        target = _repo().store.get(version)
    except StoreError:
        abort(404)
    if request.method == "POST":
        base = request.form.get("base", "")
        if not base.isdigit() or len(base) > 9:
            return _page_error("Request refused", "The form lacks the version it was based on: reload the page.",
                               400)
        try:
            _repo().rollback(to=version, author=signed_in_account().username,  # type: ignore[union-attr]
                             message=request.form.get("message", "").strip()[:200], expected=int(base))
        except StaleVersionError as e:
            return _page_error("Someone else changed the flows", str(e), 409)
        except (StoreError, FlowError) as e:
            return _page_error("Cannot roll back", str(e), 400)
        flash(f"Version {version} is live again (rolled back from version {base}).")
        return redirect(url_for("flows.index"))
    if version == live:
        return _page_error("Already live", f"Version {version} is the live version.", 400)
    changes = diff(live_sources, target, old_label=f"v{live}", new_label=f"v{version}")
    return render_template("flows/rollback.html", title=f"Roll back to v{version}", version=version, live=live,
                           changes=changes)


def _page_error(title: str, message: str, status: int) -> Any:
    return render_template("error.html", title=title, message=message), status


# -- the editor's JSON endpoints ---------------------------------------------------------------------------------
@bp.post("/api/flows/check")
@role_required(Role.SUPERVISOR)
def check() -> Any:
    """Diagnostics for the draft (the base version's files with this one replaced), as ``ivr flows check``."""
    base, _base_sources, drafted, file, _body = _draft_from_request()
    diagnostics = _check(drafted)
    return jsonify(file=file, base=base, live_version=_repo().store.current_version(),
                   errors=sum(d.is_error for d in diagnostics), diagnostics=[_diagnostic(d) for d in diagnostics])


@bp.post("/api/flows/review")
@role_required(Role.SUPERVISOR)
def review() -> Any:
    """What publishing the draft would change against the live version, and whether it may be published."""
    base, _base_sources, drafted, file, _body = _draft_from_request()
    live, live_sources = _live()
    if live != base:
        return _stale(base, live)
    diagnostics = _check(drafted)
    changes = diff(live_sources, drafted, old_label=f"v{live}", new_label="draft")
    return jsonify(file=file, base=base, live_version=live, errors=sum(d.is_error for d in diagnostics),
                   diagnostics=[_diagnostic(d) for d in diagnostics],
                   diff=[{"file": c.file, "status": c.status, "added": c.added, "removed": c.removed,
                          "lines": [{"kind": line.kind.value, "text": line.text} for line in c.lines]}
                         for c in changes])


@bp.post("/api/flows/publish")
@role_required(Role.SUPERVISOR)
def publish() -> Any:
    """Publish the draft as a new version (author: the signed-in supervisor); 400 with the diagnostics when it
    has errors, 409 when the version it was based on is no longer live."""
    base, _base_sources, drafted, file, body = _draft_from_request()
    message = body.get("message", "")
    if not isinstance(message, str) or len(message) > 200:
        return jsonify(error="'message' must be text of at most 200 characters"), 400
    live, live_sources = _live()
    if live != base:
        return _stale(base, live)
    if drafted == live_sources:
        return jsonify(error=f"nothing to publish: the draft is the same as live version {live}"), 400
    diagnostics = _check(drafted)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        return jsonify(error=f"not published: {len(errors)} error{'s' if len(errors) != 1 else ''} to fix first",
                       errors=len(errors), diagnostics=[_diagnostic(d) for d in diagnostics]), 400
    account = signed_in_account()
    try:
        version = _repo().publish_sources(drafted, author=account.username,  # type: ignore[union-attr]
                                          message=message.strip() or (f"deleted {file} in the console"
                                                                      if body.get("delete") is True
                                                                      else f"edited {file} in the console"),
                                          expected=base)
    except StaleVersionError as e:
        return _stale(base, e.live)
    except FlowError as e:  # the repository's own check (should agree with the one above)
        return jsonify(error="not published", diagnostics=[_diagnostic(d) for d in e.diagnostics]), 400
    flash(f"Version {version} is live: {file} published by {account.username}.")  # type: ignore[union-attr]
    return jsonify(version=version, previous=base, next=url_for("flows.index"))


# -- diagrams ----------------------------------------------------------------------------------------------------
def _version_arg() -> int:
    raw = request.args.get("version", "")
    if raw:
        if not raw.isdigit() or len(raw) > 9:
            abort(404)
        return int(raw)
    version = _repo().store.current_version()
    if version is None:
        abort(404)
    return version


def _svg(version: int, bundle: Bundle, flow: str) -> str:
    """The flow's diagram, drawn once per (version, flow): published versions never change."""
    model = bundle.flows[flow]
    # Nodes of the live version link to the editor at their line; older versions' lines may not match the editor.
    linked = version == _repo().store.current_version()

    def render() -> str:
        try:
            raw = yaml.safe_load(bundle.sources.get(flow, ""))
        except yaml.YAMLError:
            raw = None
        link = (lambda name, line: url_for("flows.edit", file=model.file, line=line)) if linked else None
        return render_svg(to_dot(model, raw, link))

    cache: DiagramCache = current_app.extensions[CACHE_KEY]
    return cache.get(version, flow, render, "linked" if linked else "")
