"""The sample flows' own scenario tests, and the scenario runner reporting failures precisely."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from demo.backend import run_backend_in_thread
from ivr.flowlang.scenarios import ScenarioError, load_scenarios, run_scenarios, scenario_files
from webhooks import create_app

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "flows" / "tests"


def count_scenarios() -> int:
    return sum(len(load_scenarios(p)["scenarios"]) for p in scenario_files([SCENARIO_DIR]))


def test_every_sample_scenario_passes(redis):
    lines: list[str] = []
    report = run_scenarios(scenario_files([SCENARIO_DIR]), flows_dir=ROOT / "flows", redis_client=redis,
                           make_app=create_app, start_backend=run_backend_in_thread, echo=lines.append)
    failed = [r for r in report.results if not r.ok]
    assert not failed, "\n".join(lines)
    assert len(report.results) == count_scenarios() >= 18


def test_wrong_expectations_are_each_reported(redis, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        services: {billing: sample}
        scenarios:
          - name: wrong on purpose
            at: "2026-11-23 10:00"
            timezone: America/New_York
            agents: [{id: ann, skills: {billing: 5}, status: break}]
            steps: [{press: "1"}, {hear: "nonsense"}, {press: "1"}, {press: "12345674#"}, {press: "1"},
                    {press: "2"}]
            expect: {queue: general, skills: {billing: 1}, node: english.goodbye, disposition: voicemail}
        """))
    report = run_scenarios([path], flows_dir=ROOT / "flows", redis_client=redis, make_app=create_app,
                           start_backend=run_backend_in_thread)
    problems = report.results[0].problems
    assert not report.ok and len(problems) == 5
    assert problems[0].startswith("expected to hear 'nonsense', heard 'For your account balance")
    assert "expected the call to end at english.goodbye, it ended at english.queue_billing" in problems
    assert "expected to be queued in 'general', queued in ['billing']" in problems
    assert "expected disposition voicemail, got abandoned" in problems


def test_malformed_scenario_file_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("scenarios:\n  - name: x\n    steps: [{presss: '1'}]\n    expect: {}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenarios(path)
    assert str(info.value).startswith(f"{path}:3: scenarios[0].steps[0]:")


def test_cli_flows_test_exit_code(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "test", str(SCENARIO_DIR / "spanish.yaml")],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "3 of 3 scenarios passed" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: hang up at once\n    steps: [hangup]\n    expect: {queue: billing}\n")
    failed = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "test", str(bad)], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert failed.returncode == 1 and "0 of 1 scenarios passed" in failed.stdout
