"""Flows in the browser: list and history, diagrams, the editor's checks, publish with a diff, rollback."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.config import Settings
from ivr.flowlang.check import check_files
from ivr.store.accounts import AccountStore, Role
from webhooks import create_app

from consoles import PASSWORD, console_app, csrf_token

SAMPLES = Path(__file__).resolve().parent.parent / "flows"


@pytest.fixture
def app(redis, tmp_path):
    return console_app(redis, tmp_path)


def _signed_in(app, username="sam"):
    client = app.test_client()
    token = csrf_token(client)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client, "/login")
    return client


def big_flow(count: int = 40) -> tuple[str, list[tuple[str, str, str]]]:
    """A valid flow of ``count`` nodes mixing menus, branches, say and set nodes, and the edges it must draw
    (source, target, label). Node n1's branch compares with text that must be escaped in the SVG."""
    last = count - 1
    lines = ["language: en-US", "start: n0", "nodes:"]
    expected: list[tuple[str, str, str]] = []

    def fwd(i: int, step: int) -> str:
        return f"n{min(i + step, last)}"

    lines += ["  n0:", "    menu:", '      prompt: "Choose."', "      options:"]
    for key in range(1, 5):
        lines.append(f"        - {{key: {key}, goto: n{key}}}")
        expected.append(("n0", f"n{key}", f"key {key}"))
    lines.append("      fallback: n5")
    expected.append(("n0", "n5", "fallback"))
    for i in range(1, last):
        lines.append(f"  n{i}:")
        if i % 4 == 1:
            value = '"<b>x</b> & \\"q\\""' if i == 1 else f'"+1555{i:04d}"'
            lines += ["    branch:", "      cases:", f"        - when: {{var: caller, equals: {value}}}",
                      f"          goto: {fwd(i, 2)}", f"      else: {fwd(i, 1)}"]
            expected += [(f"n{i}", fwd(i, 2), "equals"), (f"n{i}", fwd(i, 1), "else")]
        elif i % 4 == 2:
            lines += ["    menu:", f'      prompt: "Menu {i}."', "      options:",
                      f"        - {{key: 1, goto: {fwd(i, 1)}}}", f"        - {{key: 2, goto: {fwd(i, 3)}}}",
                      f"      fallback: {fwd(i, 1)}"]
            expected += [(f"n{i}", fwd(i, 1), "key 1"), (f"n{i}", fwd(i, 3), "key 2"),
                         (f"n{i}", fwd(i, 1), "fallback")]
        elif i % 4 == 3:
            lines += ["    set:", f'      v{i}: "x"', f"    next: {fwd(i, 1)}"]
            expected.append((f"n{i}", fwd(i, 1), ""))
        else:
            lines += [f'    say: "Step {i}."', f"    next: {fwd(i, 1)}"]
            expected.append((f"n{i}", fwd(i, 1), ""))
    lines += [f"  n{last}:", "    hangup: true"]
    return "\n".join(lines) + "\n", expected


def _groups(svg: str, kind: str) -> list[str]:
    """The SVG groups Graphviz wrote for each node or edge (``kind``), each up to the next group."""
    chunks = re.split(r'(?=<g id="[a-z&#;0-9]+&#45;[^"]*" class="(?:node|edge)">)', svg)
    return [c for c in chunks if re.match(rf'<g id="[^"]+" class="{kind}">', c)]


def _boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Each node's bounding box (x0, y0, x1, y1) from the shapes Graphviz drew for it."""
    boxes = {}
    for group in _groups(svg, "node"):
        name = re.search(r'<g id="flow&#45;node&#45;([^"]+)"', group)
        if name is None:
            continue  # the entry marker
        shapes = re.findall(r'\s(?:points|d)="([^"]+)"', group)
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", " ".join(shapes))]
        xs, ys = numbers[0::2], numbers[1::2]
        boxes[name.group(1).replace("&#45;", "-")] = (min(xs), min(ys), max(xs), max(ys))
    return boxes


def _edges_drawn(svg: str) -> list[tuple[str, str, str]]:
    """(source, target, label text) of each edge drawn."""
    drawn = []
    for group in _groups(svg, "edge"):
        title = re.search(r"<title>(.*?)&#45;&gt;(.*?)</title>", group)
        labels = re.findall(r"<text[^>]*>(.*?)</text>", group)
        drawn.append((title.group(1), title.group(2), " ".join(labels)))
    return drawn


def _publish(app, sources: dict[str, str], author: str = "test") -> int:
    return app.extensions["ivr"].repo.publish_sources(sources, author=author, message="test setup")


def _live(app) -> tuple[int, dict[str, str]]:
    store = app.extensions["ivr"].repo.store
    version = store.current_version()
    return version, store.get(version)


def _broken_english(live: dict[str, str]) -> str:
    text = live["english.yaml"]
    assert "else: read_balance" in text
    return text.replace("else: read_balance", "else: read_balanse", 1)


# -- roles and CSRF ---------------------------------------------------------------------------------------------
def test_flows_pages_and_endpoints_need_a_supervisor_session(app):
    version, live = _live(app)
    anonymous = app.test_client()
    assert anonymous.get("/flows").status_code == 302
    assert anonymous.post("/api/flows/check", json={"base": version, "file": "main.yaml",
                                                     "source": live["main.yaml"]}).status_code == 401
    agent = _signed_in(app, "ana")
    assert agent.get("/flows").status_code == 403
    assert agent.get("/flows/diagram/main").status_code == 403
    assert agent.get("/flows/edit/main.yaml").status_code == 403
    refused = agent.post("/api/flows/publish", json={"base": version, "file": "main.yaml", "source": "x: 1\n"})
    assert refused.status_code == 403 and "supervisor" in refused.get_json()["error"]
    assert agent.post(f"/flows/rollback/{version}", data={"base": version}).status_code == 403
    assert app.extensions["ivr"].repo.store.current_version() == version


def test_changes_need_the_csrf_token(app):
    version, live = _live(app)
    client = _signed_in(app)
    del client.environ_base["HTTP_X_CSRFTOKEN"]
    draft = {"base": version, "file": "main.yaml", "source": live["main.yaml"] + "# x\n"}
    for url in ("/api/flows/check", "/api/flows/review", "/api/flows/publish"):
        response = client.post(url, json=draft)
        assert response.status_code == 400 and "CSRF" in response.get_json()["error"]
    _publish(app, {**live, "main.yaml": live["main.yaml"] + "# v2\n"})
    response = client.post(f"/flows/rollback/{version}", data={"base": version + 1})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert app.extensions["ivr"].repo.store.current_version() == version + 1


# -- list -------------------------------------------------------------------------------------------------------
def test_the_list_shows_the_live_files_and_the_history(app):
    version, live = _live(app)
    _publish(app, {**live, "main.yaml": live["main.yaml"] + "# second\n"}, author="ines")
    client = _signed_in(app)
    page = client.get("/flows").get_data(as_text=True)
    bundle = app.extensions["ivr"].repo.bundle(version + 1)
    assert f"Live version v{version + 1}" in page
    for flow in bundle.flows.values():
        row = re.search(rf'<th scope="row">{flow.name}\b.*?</tr>', page, re.S).group(0)
        assert f"<code>{flow.file}</code>" in row and f'<td class="num">{len(flow.nodes)}</td>' in row
        assert f"<td>{flow.language}</td>" in row
    assert "queue settings" in page
    history = page[page.index("History"):]
    live_row = re.search(r'<tr class="live">.*?</tr>', history, re.S).group(0)
    assert f"v{version + 1}" in live_row and "ines" in live_row and "test setup" in live_row
    assert f"Roll back to v{version}" in history and f"Roll back to v{version + 1}" not in history
    assert '<a href="/flows"' in page  # in the supervisor's navigation


# -- checks -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("broken", [True, False])
def test_check_gives_the_same_diagnostics_as_the_command_line(app, tmp_path, broken):
    version, live = _live(app)
    text = _broken_english(live) if broken else live["english.yaml"] + "# unchanged meaning\n"
    directory = tmp_path / "draft"
    directory.mkdir()
    for name, source in {**live, "english.yaml": text}.items():
        (directory / name).write_text(source)
    cli = [(Path(d.file).name, d.line, d.path, d.message, d.severity.value) for d in check_files([directory])]
    result = _signed_in(app).post("/api/flows/check", json={"base": version, "file": "english.yaml",
                                                            "source": text}).get_json()
    got = [(d["file"], d["line"], d["path"], d["message"], d["severity"]) for d in result["diagnostics"]]
    assert got == cli and got  # errors when broken, the missing speech model warnings when not
    assert result["errors"] == sum(d[4] == "error" for d in cli)
    if broken:
        line = text.splitlines().index("      else: read_balanse") + 1
        assert ("english.yaml", line, "nodes.identified.branch.else",
                "no node 'read_balanse' (did you mean 'read_balance'?)", "error") in got
    else:
        assert result["errors"] == 0 and {d[4] for d in got} == {"warning"}


@pytest.mark.parametrize("body, status, message", [
    (None, 400, "JSON object"),
    ({"file": "main.yaml", "source": ""}, 400, "'base'"),
    ({"base": "1", "file": "main.yaml", "source": ""}, 400, "'base'"),
    ({"base": 999, "file": "main.yaml", "source": ""}, 404, "no flow version 999"),
    ({"base": 1, "file": "../etc/passwd", "source": ""}, 400, "not a flow file name"),
    ({"base": 1, "file": "", "source": ""}, 400, "give the file a name"),
    ({"base": 1, "file": "main.yaml", "source": 12}, 400, "'source'"),
    ({"base": 1, "file": "main.yml", "source": "nodes: {}"}, 400, "main.yaml already holds flow 'main'"),
])
def test_bad_editor_requests_get_a_clear_4xx(app, body, status, message):
    client = _signed_in(app)
    for url in ("/api/flows/check", "/api/flows/review", "/api/flows/publish"):
        response = client.post(url, json=body) if body is not None else client.post(url, data="not json")
        assert response.status_code == status, (url, response.get_data(as_text=True))
        assert message in response.get_json()["error"]


def test_a_yaml_syntax_error_is_reported_with_its_line(app):
    version, live = _live(app)
    text = live["main.yaml"].replace("nodes:\n", "nodes:\n  oops: [unclosed\n", 1)
    result = _signed_in(app).post("/api/flows/check", json={"base": version, "file": "main.yaml",
                                                            "source": text}).get_json()
    assert result["errors"] >= 1
    assert any(d["file"] == "main.yaml" and d["line"] >= text.splitlines().index("  oops: [unclosed")
               for d in result["diagnostics"])


# -- review, publish, stale versions ----------------------------------------------------------------------------
def test_review_shows_a_unified_diff_against_the_live_version(app):
    version, live = _live(app)
    text = live["main.yaml"].replace("Thank you for calling Northwind Energy.", "Welcome to <Northwind> & co.")
    result = _signed_in(app).post("/api/flows/review", json={"base": version, "file": "main.yaml",
                                                             "source": text}).get_json()
    assert result["errors"] == 0 and [f["file"] for f in result["diff"]] == ["main.yaml"]
    lines = result["diff"][0]["lines"]
    assert lines[0] == {"kind": "header", "text": f"--- v{version}/main.yaml"}
    assert {"kind": "removed", "text": '-    say: "Thank you for calling Northwind Energy."'} in lines
    assert {"kind": "added", "text": '+    say: "Welcome to <Northwind> & co."'} in lines
    assert result["diff"][0]["added"] == 1 and result["diff"][0]["removed"] == 1


def test_a_draft_with_errors_cannot_be_published(app):
    version, live = _live(app)
    response = _signed_in(app).post("/api/flows/publish", json={
        "base": version, "file": "english.yaml", "source": _broken_english(live), "message": "oops"})
    assert response.status_code == 400
    body = response.get_json()
    assert "not published: 1 error" in body["error"]
    assert any("no node 'read_balanse'" in d["message"] for d in body["diagnostics"])
    assert app.extensions["ivr"].repo.store.current_version() == version


def test_publishing_makes_a_new_version_through_the_repository(app, redis):
    from routing.acd import Distributor

    version, live = _live(app)
    queues = live["queues.yaml"].replace("offer_timeout: 15s", "offer_timeout: 25s")
    client = _signed_in(app)
    response = client.post("/api/flows/publish", json={"base": version, "file": "queues.yaml", "source": queues,
                                                       "message": "longer offers"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"version": version + 1, "previous": version, "next": "/flows"}
    store = app.extensions["ivr"].repo.store
    assert store.current_version() == version + 1 and store.get(version + 1)["queues.yaml"] == queues
    event = store.history(limit=1)[0]
    assert (event["author"], event["message"], event["kind"]) == ("sam", "longer offers", "publish")
    assert Distributor(redis).settings()["offer_timeout_ms"] == 25_000  # the repository's publish hook ran
    assert "Version 2 is live" in client.get("/flows").get_data(as_text=True)
    again = client.post("/api/flows/publish", json={"base": version + 1, "file": "queues.yaml", "source": queues})
    assert again.status_code == 400 and "nothing to publish" in again.get_json()["error"]


def test_a_new_file_is_published_with_the_others(app):
    version, live = _live(app)
    text, _edges = big_flow(8)
    client = _signed_in(app)
    response = client.post("/api/flows/publish", json={"base": version, "file": "billing.yaml", "source": text})
    assert response.status_code == 200, response.get_json()
    sources = app.extensions["ivr"].repo.store.get(version + 1)
    assert sources == {**live, "billing.yaml": text}
    assert len(app.extensions["ivr"].repo.bundle(version + 1).flows["billing"].nodes) == 8


def test_a_file_is_deleted_unless_other_files_still_need_it(app):
    version, live = _live(app)
    text, _edges = big_flow(8)
    client = _signed_in(app)
    assert client.post("/api/flows/publish", json={"base": version, "file": "billing.yaml",
                                                   "source": text}).status_code == 200
    deletion = {"base": version + 1, "file": "billing.yaml", "delete": True}
    review = client.post("/api/flows/review", json=deletion).get_json()
    assert review["errors"] == 0 and [(c["file"], c["status"], c["added"], c["removed"]) for c in review["diff"]] \
        == [("billing.yaml", "removed", 0, len(text.splitlines()))]
    published = client.post("/api/flows/publish", json=deletion)
    assert published.status_code == 200, published.get_json()
    assert app.extensions["ivr"].repo.store.get(version + 2) == live
    assert app.extensions["ivr"].repo.store.history(limit=1)[0]["message"] == "deleted billing.yaml in the console"
    # identify.yaml is a subflow the language flows call: deleting it is refused with the checker's reasons
    needed = client.post("/api/flows/publish", json={"base": version + 2, "file": "identify.yaml", "delete": True})
    assert needed.status_code == 400 and needed.get_json()["errors"] >= 1
    assert any("identify" in d["message"] for d in needed.get_json()["diagnostics"])
    missing = client.post("/api/flows/review", json={"base": version + 2, "file": "gone.yaml", "delete": True})
    assert missing.status_code == 400 and missing.get_json()["error"] == "there is no file gone.yaml to delete"
    assert app.extensions["ivr"].repo.store.current_version() == version + 2


def test_a_change_based_on_an_old_version_is_refused_with_409(app):
    version, live = _live(app)
    _publish(app, {**live, "main.yaml": live["main.yaml"] + "# someone else\n"}, author="ines")
    client = _signed_in(app)
    draft = {"base": version, "file": "spanish.yaml", "source": live["spanish.yaml"] + "# mine\n"}
    for url in ("/api/flows/review", "/api/flows/publish"):
        response = client.post(url, json=draft)
        assert response.status_code == 409
        body = response.get_json()
        assert body["live_version"] == version + 1 and f"version {version + 1} was made live after version " \
                                                       f"{version}" in body["error"]
    assert app.extensions["ivr"].repo.store.current_version() == version + 1
    # the check still answers (for the version the edit is based on) and says a newer one is live
    checked = client.post("/api/flows/check", json=draft).get_json()
    assert checked["errors"] == 0 and checked["live_version"] == version + 1


def test_the_store_refuses_a_stale_switch_even_after_the_first_look(app):
    """The check-and-switch is one Redis transaction: a version made live between the look and the switch wins."""
    from ivr.errors import StaleVersionError
    from ivr.store import keys

    repo = app.extensions["ivr"].repo
    version, live = _live(app)
    redis = repo.store.redis
    original = repo.store._files

    def sneaky(v):  # runs inside publish after the first look at the live version
        redis.set(keys.FLOWS_CURRENT, version + 100)
        return original(v)

    repo.store._files = sneaky
    with pytest.raises(StaleVersionError):
        repo.publish_sources({**live, "main.yaml": live["main.yaml"] + "# x\n"}, author="t", message="",
                             expected=version)
    repo.store._files = original
    assert repo.store.current_version() == version + 100


# -- rollback ---------------------------------------------------------------------------------------------------
def test_rollback_shows_the_diff_then_makes_the_old_version_live(app):
    version, live = _live(app)
    _publish(app, {**live, "main.yaml": live["main.yaml"].replace("Thank you", "Thanks")}, author="ines")
    client = _signed_in(app)
    page = client.get(f"/flows/rollback/{version}").get_data(as_text=True)
    assert f"Roll back to v{version}" in page and f'name="base" value="{version + 1}"' in page
    assert '<span class="diff-removed">-    say: &#34;Thanks for calling' in page
    assert '<span class="diff-added">+    say: &#34;Thank you for calling' in page
    token = csrf_token(client, "/flows")
    response = client.post(f"/flows/rollback/{version}", data={"base": version + 1, "csrf_token": token,
                                                               "message": "the old greeting"})
    assert response.status_code == 302 and response.headers["Location"] == "/flows"
    store = app.extensions["ivr"].repo.store
    assert store.current_version() == version
    event = store.history(limit=1)[0]
    assert (event["kind"], event["author"], event["message"]) == ("rollback", "sam", "the old greeting")
    assert f"Version {version} is live again" in client.get("/flows").get_data(as_text=True)
    # a second, stale confirmation (still based on v2) is refused
    stale = client.post(f"/flows/rollback/{version + 1}", data={"base": version + 1, "csrf_token": token})
    assert stale.status_code == 409 and "was made live after" in stale.get_data(as_text=True)
    assert store.current_version() == version


def test_rollback_of_bad_versions_is_a_clear_4xx(app):
    version, _live_sources = _live(app)
    client = _signed_in(app)
    assert client.get("/flows/rollback/999").status_code == 404
    assert client.get(f"/flows/rollback/{version}").status_code == 400  # already live
    token = csrf_token(client, "/flows")
    assert client.post(f"/flows/rollback/{version}", data={"csrf_token": token}).status_code == 400
    response = client.post(f"/flows/rollback/{version}", data={"base": version, "csrf_token": token})
    assert response.status_code == 400 and "already live" in response.get_data(as_text=True)


# -- diagrams ---------------------------------------------------------------------------------------------------
def test_a_40_node_flow_is_drawn_whole_without_overlaps_and_escaped(app):
    version, live = _live(app)
    text, expected = big_flow(40)
    new = _publish(app, {**live, "big.yaml": text})
    client = _signed_in(app)
    response = client.get("/flows/diagram/big.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    boxes = _boxes(svg)
    assert sorted(boxes) == sorted(f"n{i}" for i in range(40))
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}"
    drawn = _edges_drawn(svg)
    for source, target, label in expected:
        assert any(d[0] == source and d[1] == target and label in d[2] for d in drawn), (source, target, label)
    assert len(drawn) == len(expected) + 1  # and the entry marker's arrow
    assert ("(start)", "n0", "") in drawn
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg  # the condition's text, escaped
    assert 'xlink:href="/flows/edit/big.yaml?line=' in svg  # each node links to the editor at its line
    page = client.get("/flows/diagram/big").get_data(as_text=True)
    assert f"40 nodes, {len(expected)} transitions, entry <code>n0</code>" in page
    assert page.count('class="secondary show-node"') == 40
    cache = app.extensions["ivr_flow_diagrams"]
    assert cache.renders == 1  # drawn once for the version, then served from the cache
    assert client.get(f"/flows/diagram/big?version={new}").status_code == 200 and cache.renders == 1


def test_diagrams_of_unknown_flows_or_versions_are_404(app):
    client = _signed_in(app)
    assert client.get("/flows/diagram/nope").status_code == 404
    assert client.get("/flows/diagram/main?version=999").status_code == 404
    assert client.get("/flows/diagram/main?version=x").status_code == 404
    assert client.get("/flows/edit/nope.yaml").status_code == 404


def test_every_sample_flow_has_a_diagram_with_labelled_transitions(app):
    client = _signed_in(app)
    svg = client.get("/flows/diagram/english.svg").get_data(as_text=True)
    assert "{var: topic, equals: billing}" in svg  # a branch condition as written
    assert "fallback" in svg and "key 1" in svg
    assert client.get("/flows/diagram/main").status_code == 200


# -- try this draft ---------------------------------------------------------------------------------------------
def test_try_this_draft_posts_the_draft_to_the_try_page(redis, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    app = create_app(replace(Settings(), flows_dir=flows), redis_client=redis)
    AccountStore(redis).create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    with_try = _signed_in(app).get("/flows/edit/main.yaml").get_data(as_text=True)
    assert 'action="/flows/try"' in with_try and "Try this draft" in with_try
    assert 'name="file"' in with_try and 'name="source"' in with_try and 'name="csrf_token"' in with_try


# -- in a real browser ------------------------------------------------------------------------------------------
def test_a_supervisor_edits_publishes_and_rolls_back_in_the_browser(app, page, screenshot, sign_in):
    from playwright.sync_api import expect

    from ivr.simulator import LoopbackServer

    version, live = _live(app)
    original = live["english.yaml"]
    broken = _broken_english(live)
    error_line = broken.splitlines().index("      else: read_balanse") + 1
    suspended = "Your service is currently suspended."
    fixed = original.replace(suspended, "Your service is suspended for now.")
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").click()
        expect(page.get_by_role("heading", name="Flows", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name=f"Live version v{version}")).to_be_visible()
        expect(page.get_by_role("row", name=re.compile(r"^english english\.yaml"))).to_contain_text("en-US")
        screenshot(page, "flows-list")

        page.get_by_role("link", name="Diagram of english").click()
        expect(page.get_by_role("heading", name=re.compile("^Flow english"))).to_be_visible()
        expect(page.locator("#diagram svg #flow-node-main_menu")).to_be_visible()
        page.get_by_label("Find a node").fill("identified")
        page.get_by_label("Find a node").press("Enter")
        expect(page.locator("#node-find-result")).to_have_text("Showing node identified.")
        expect(page.locator("#flow-node-identified")).to_have_class(re.compile(r"\bfound\b"))
        expect(page.locator("#flow-node-identified a")).to_be_focused()
        screenshot(page, "flow-diagram")

        page.get_by_role("link", name="Edit english.yaml").click()
        editor = page.get_by_label("YAML", exact=True)
        expect(page.locator("#check-summary")).to_have_text("No errors, 2 warnings.")  # checked on opening
        # Tab indents inside the editor; Escape then Tab leaves it
        editor.evaluate("e => { e.focus(); e.setSelectionRange(e.value.length, e.value.length); }")
        page.keyboard.press("Tab")
        assert editor.input_value().endswith("\n  ")
        page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Check")).to_be_focused()

        editor.fill(broken)  # no button pressed: the check runs on a short pause after typing
        problem = page.get_by_role("button", name=re.compile(rf"^line {error_line}: nodes\.identified\.branch\.else: "
                                                            r"no node 'read_balanse' \(did you mean 'read_balance'"))
        expect(problem).to_be_visible()
        expect(page.locator("#check-summary")).to_contain_text("1 error")
        expect(editor).to_have_attribute("aria-invalid", "true")
        expect(editor).to_have_attribute("aria-describedby", re.compile(r"\bdiagnostics\b"))
        expect(page.locator(f'#flow-gutter .gutter-line[data-line="{error_line}"]')).to_have_text(f"! {error_line}")
        expect(page.locator("#flow-gutter .has-error")).to_have_count(1)
        problem.focus()
        page.keyboard.press("Enter")  # jumps to the line
        expect(editor).to_be_focused()
        offset = len("\n".join(broken.splitlines()[: error_line - 1])) + 1
        assert editor.evaluate("e => e.selectionStart") == offset
        assert page.locator("#flow-gutter").evaluate("g => g.scrollTop") == editor.evaluate("e => e.scrollTop")
        screenshot(page, "flow-editor-error")

        # publishing is refused while there are errors
        page.get_by_role("button", name="Review & publish").click()
        expect(page.locator("#review")).to_be_hidden()
        expect(page.locator("#check-summary")).to_contain_text("cannot be published")

        editor.fill(fixed)
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#check-summary")).to_have_text("No errors, 2 warnings.")
        expect(editor).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator("#flow-gutter .has-error")).to_have_count(0)
        page.get_by_role("button", name="Review & publish").click()
        expect(page.get_by_role("heading", name="Review & publish")).to_be_focused()
        diff = page.locator("#diff pre.diff")
        expect(diff.locator(".diff-removed")).to_have_text(f'-    say: "{suspended} Let me connect you with our '
                                                           'collections team."')
        expect(diff.locator(".diff-added")).to_have_text('+    say: "Your service is suspended for now. Let me '
                                                         'connect you with our collections team."')
        page.get_by_label("What changed").fill("shorter suspension notice")
        screenshot(page, "flow-publish-diff")
        page.get_by_role("button", name="Publish", exact=True).click()

        page.wait_for_url(server.base_url + "/flows")
        expect(page.get_by_role("status").first).to_contain_text(f"Version {version + 1} is live")
        live_row = page.locator("table.flows-history tr.live")
        expect(live_row).to_contain_text(f"v{version + 1}")
        expect(live_row).to_contain_text("sam")
        expect(live_row).to_contain_text("shorter suspension notice")
        assert app.extensions["ivr"].repo.store.get(version + 1)["english.yaml"] == fixed

        page.get_by_role("link", name=f"Roll back to v{version}").click()
        expect(page.get_by_role("heading", name=f"Roll back to v{version}")).to_be_visible()
        expect(page.locator("pre.diff .diff-added")).to_contain_text(suspended)
        page.get_by_role("button", name=f"Roll back to v{version}").click()
        expect(page.get_by_role("status").first).to_contain_text(f"Version {version} is live again")
        expect(live_row).to_contain_text("rollback")
        expect(live_row.locator("th")).to_contain_text(f"v{version}")
    assert app.extensions["ivr"].repo.store.current_version() == version


def test_a_40_node_diagram_in_the_browser(app, page, screenshot, sign_in):
    from playwright.sync_api import expect

    from ivr.simulator import LoopbackServer

    _version, live = _live(app)
    text, _expected = big_flow(40)
    _publish(app, {**live, "big.yaml": text})
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.goto(server.base_url + "/flows/diagram/big")
        expect(page.locator("#diagram svg g.node[id^='flow-node-']")).to_have_count(40)
        expect(page.locator("#diagram svg g.edge")).to_have_count(len(_expected) + 1)
        expect(page.locator("#flow-node-n0")).to_be_in_viewport()  # the diagram opens on its entry
        screenshot(page, "flow-diagram-40")
        page.get_by_role("button", name="Fit whole flow").click()
        expect(page.get_by_role("button", name="Fit whole flow")).to_have_attribute("aria-pressed", "true")
        box, frame = page.locator("#diagram svg").bounding_box(), page.locator("#diagram").bounding_box()
        assert box["height"] <= frame["height"] and box["width"] <= frame["width"]  # all of it, no scrolling
        screenshot(page, "flow-diagram-40-fit")
        page.get_by_role("button", name="Fit whole flow").click()
        page.get_by_role("row", name=re.compile(r"^n39 ")).get_by_role("button", name="Show in diagram").click()
        expect(page.locator("#flow-node-n39")).to_be_in_viewport()
        page.locator("#flow-node-n39 a").click()  # a node leads to the editor at its line
        expect(page.get_by_label("YAML", exact=True)).to_be_focused()
        line = text.splitlines().index("  n39:") + 1
        offset = len("\n".join(text.splitlines()[: line - 1])) + 1
        assert page.get_by_label("YAML", exact=True).evaluate("e => e.selectionStart") == offset


def test_a_supervisor_deletes_a_file_in_the_browser(app, page, sign_in):
    from playwright.sync_api import expect

    from ivr.simulator import LoopbackServer

    version, live = _live(app)
    text, _edges = big_flow(8)
    _publish(app, {**live, "billing.yaml": text})
    with LoopbackServer(app) as server:
        sign_in(page, server.base_url, "sam")
        page.goto(server.base_url + "/flows/edit/billing.yaml")
        page.get_by_role("button", name="Delete this file…").click()
        expect(page.get_by_role("heading", name="Review & publish: delete billing.yaml")).to_be_focused()
        expect(page.get_by_role("region", name="Changes to billing.yaml")).to_contain_text(
            f"(removed: 0 lines added, {len(text.splitlines())} removed)")
        page.get_by_label("What changed (kept in the history)").fill("billing line retired")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.get_by_role("heading", name=f"Live version v{version + 2}")).to_be_visible()
        expect(page.get_by_role("row", name=re.compile(r"^billing billing\.yaml"))).to_have_count(0)
        expect(page.get_by_text("billing line retired")).to_be_visible()
    assert app.extensions["ivr"].repo.store.get(version + 2) == live
