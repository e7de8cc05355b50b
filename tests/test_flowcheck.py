"""Flow validation: every error at once, located as file:line: path: message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivr.errors import FlowError
from ivr.flowcheck import check_files, load_bundle
from ivr.flowmodel import NodeKind

ROOT = Path(__file__).resolve().parent.parent


def errors_of(text: str, name: str = "main.yaml", extra: dict[str, str] | None = None) -> list[str]:
    sources = {name: textwrap.dedent(text), **(extra or {})}
    with pytest.raises(FlowError) as info:
        load_bundle(sources)
    return [str(d) for d in info.value.diagnostics]


def test_sample_flows_are_valid():
    assert check_files([ROOT / "flows"]) == []


def test_minimal_flow_builds_a_bundle():
    bundle = load_bundle({"main.yaml": "nodes:\n  hi:\n    hangup: Goodbye.\n"})
    flow = bundle.flows["main"]
    assert flow.start == "hi" and flow.nodes["hi"].kind is NodeKind.HANGUP
    assert bundle.flow_for_number("+15550000000") is flow


def test_unknown_target_names_file_line_path_and_suggests():
    errors = errors_of("""\
        nodes:
          menu:
            menu:
              prompt: Press 1 for billing.
              options:
                - key: 1
                  goto: bilin
          billing:
            hangup: Bye
        """)
    assert errors == ["main.yaml:7: nodes.menu.menu.options[0].goto: no node 'bilin' (did you mean 'billing'?)"]


def test_all_errors_are_reported_at_once():
    errors = errors_of("""\
        nodes:
          start:
            say: Hello
            nxt: end
          ask:
            collect:
              prompt: Enter digits
              var: x
              timeout: 5 seconds
              pattern: "[0-9"
              min_length: 9
              max_length: 4
            next: end
          end:
            hangup: "{{ nope }}"
        """)
    text = "\n".join(errors)
    assert "main.yaml:4: nodes.start.nxt: unknown key 'nxt' (did you mean 'next'?)" in text
    assert "main.yaml:9: nodes.ask.collect.timeout: '5 seconds' is not a duration" in text
    assert "main.yaml:10: nodes.ask.collect.pattern: bad pattern" in text
    assert "main.yaml:11: nodes.ask.collect.min_length: min_length 9 is greater than max_length 4" in text
    assert "nodes.end.hangup: undefined variable 'nope'" in text
    assert len(errors) >= 5


def test_missing_required_key_and_wrong_type():
    errors = errors_of("""\
        nodes:
          m:
            menu:
              options: [{key: 1, goto: m2}]
          m2:
            menu:
              prompt: Hi
              options: "1"
        """)
    assert "main.yaml:3: nodes.m.menu: missing required key 'prompt'" in errors
    assert "main.yaml:8: nodes.m2.menu.options: expected a list, got the text '1'" in errors


def test_unknown_node_kind_and_two_kinds():
    errors = errors_of("""\
        nodes:
          a:
            sya: Hello
            next: b
          b:
            say: Hi
            hangup: true
        """)
    assert "main.yaml:3: nodes.a.sya: unknown key 'sya' (did you mean 'say'?)" in errors
    assert any(e.startswith("main.yaml:7: nodes.b.hangup: a node has one kind") for e in errors)


def test_unreachable_node_and_dead_end():
    errors = errors_of("""\
        nodes:
          a:
            hangup: Bye
          orphan:
            say: Nobody comes here
            next: a
        """)
    assert errors == ["main.yaml:4: nodes.orphan: unreachable: no path from start 'a' leads here"]
    errors = errors_of("nodes:\n  a:\n    say: Hi\n")
    assert errors == ["main.yaml:2: nodes.a: dead end: a say node needs 'next' (where the call goes afterwards)"]


def test_loop_with_no_exit():
    errors = errors_of("""\
        nodes:
          a:
            menu:
              prompt: Press 1
              options: [{key: 1, goto: b}]
              fallback: a
          b:
            say: Again
            next: a
        """)
    assert any(e.startswith("main.yaml:2: nodes.a: loop with no exit: a, b") for e in errors)


def test_loop_with_an_exit_is_fine():
    load_bundle({"main.yaml": textwrap.dedent("""\
        nodes:
          a:
            menu:
              prompt: Press 1 to repeat, 2 to leave
              options: [{key: 1, goto: a}, {key: 2, goto: bye}]
          bye:
            hangup: Bye
        """)})


def test_yaml_syntax_error_has_a_line():
    errors = errors_of("nodes:\n  a:\n    say: [unclosed\n    next: b\n")
    assert len(errors) == 1 and errors[0].startswith("main.yaml:") and "YAML syntax error" in errors[0]


def test_yaml_cannot_name_code():
    errors = errors_of("nodes:\n  a:\n    hangup: !!python/object/apply:os.system ['true']\n")
    assert errors == ["main.yaml:3: nodes.a.hangup: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not "
                      "allowed: flows are plain data and cannot name code"]


def test_yaml_1_1_surprises_are_off():
    bundle = load_bundle({"main.yaml": textwrap.dedent("""\
        variables: {answer: no, opens: 09:30}
        nodes:
          a:
            hangup: "{{answer}} {{opens}}"
        """)})
    assert bundle.flows["main"].variables == {"answer": "no", "opens": "09:30"}


def test_duplicate_keys_are_errors():
    errors = errors_of("nodes:\n  a:\n    hangup: Bye\n  a:\n    hangup: Again\n")
    assert errors == ["main.yaml:4: nodes.a: duplicate key 'a'"]


def test_undefined_variable_suggests_defined_one():
    errors = errors_of("""\
        nodes:
          ask:
            collect: {prompt: "Account?", var: account_number}
            next: say
          say:
            say: "You said {{acount_number}}"
            next: bye
          bye:
            hangup: true
        """)
    assert errors == ["main.yaml:6: nodes.say.say: undefined variable 'acount_number' "
                      "(did you mean 'account_number'?)"]


def test_variables_defined_by_a_subflow_are_visible_to_the_caller():
    main = """\
        nodes:
          who:
            subflow: ident
            next: greet
          greet:
            hangup: "Hello {{customer.name}}"
        """
    ident = "nodes:\n  set:\n    set: {customer: ''}\n    next: done\n  done:\n    return: true\n"
    load_bundle({"main.yaml": textwrap.dedent(main), "ident.yaml": ident})


def test_unknown_subflow_schedule_and_service():
    errors = errors_of("""\
        timezone: Europe/Paris
        nodes:
          a:
            subflow: identfy
            next: b
          b:
            hours: {schedule: ofice, open: c, closed: c}
          c:
            lookup: {service: biling, path: /x, on_failure: d}
            next: d
          d:
            hangup: true
        """, extra={"identify.yaml": "nodes:\n  r:\n    return: true\n"})
    text = "\n".join(errors)
    assert "main.yaml:4: nodes.a.subflow: no flow 'identfy' (did you mean 'identify'?)" in text
    assert "main.yaml:7: nodes.b.hours.schedule: no schedule 'ofice'" in text
    assert "main.yaml:9: nodes.c.lookup.service: no service 'biling' in this flow's services" in text


def test_time_conditions_need_a_timezone_and_bad_timezone_suggests():
    errors = errors_of("""\
        nodes:
          a:
            branch:
              cases:
                - when: {day: mon-fri}
                  goto: b
              else: b
          b:
            hangup: true
        """)
    assert any("nodes.a.branch.cases[0].when: time, day and date conditions need the flow's 'timezone'" in e
               for e in errors)
    errors = errors_of("timezone: Europe/Pariss\nnodes:\n  a:\n    hangup: true\n")
    assert errors == ["main.yaml:1: timezone: unknown timezone 'Europe/Pariss' (did you mean 'Europe/Paris'?)"]


def test_bad_condition_and_menu_keys():
    errors = errors_of("""\
        nodes:
          a:
            menu:
              prompt: Pick
              options:
                - {key: 1, goto: b}
                - {key: 1, goto: b}
                - {key: 12, goto: b}
          b:
            branch:
              cases:
                - when: {var: x, greater: 3}
                  goto: c
              else: c
          c:
            hangup: true
        """)
    text = "\n".join(errors)
    assert "main.yaml:7: nodes.a.menu.options[1].key: key 1 is already used by options[0]" in text
    assert "main.yaml:8: nodes.a.menu.options[2].key: '12' is not a key" in text
    assert "nodes.b.branch.cases[0].when.greater: unknown comparison 'greater'" in text


def test_duplicate_numbers_and_defaults_across_files():
    errors = errors_of("default: true\nnumbers: ['+1 555 010 0000']\nnodes:\n  a:\n    hangup: true\n",
                       extra={"other.yaml": "default: true\nnumbers: ['+15550100000']\nnodes:\n  a:\n"
                                            "    hangup: true\n"})
    assert "other.yaml:2: numbers[0]: +15550100000 already goes to flow 'main'" in errors
    assert "other.yaml:1: default: flow 'main' is already the default flow" in errors


def test_prompt_shape_error_is_readable():
    errors = errors_of("nodes:\n  a:\n    say: {text: hi}\n    next: b\n  b:\n    hangup: true\n")
    assert errors == ["main.yaml:3: nodes.a.say: not a prompt: a prompt is text, {say: text}, {play: url}, "
                      "{pause: duration}, or a list of these"]


def test_cli_check_exit_codes(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "main.yaml").write_text("nodes:\n  a:\n    hangup: Bye\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  a:\n    say: Hi\n    next: nowhere\n")
    ok = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "check", str(good)], capture_output=True,
                        text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    fail = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "check", str(bad)], capture_output=True,
                          text=True, cwd=ROOT)
    assert fail.returncode == 1
    assert f"{bad}:4: nodes.a.next: no node 'nowhere'" in fail.stdout


QUEUES = """\
    skills: [billing, english]
    queues:
      billing:
        skills: {billing: 2}
    """


def test_queue_configuration_is_checked_with_lines_and_suggestions():
    errors = errors_of("nodes:\n  a:\n    hangup: true\n", extra={"queues.yaml": textwrap.dedent("""\
        skills: [billing, english]
        defaults: {offer_timeout: 2s}
        queues:
          billing:
            skills: {biling: 3, english: 11}
            strategy: longest_idle
            escalation:
              - {after: 2m, skills: {billing: 1}}
              - {after: 1m}
            on_max_wait: queue:genral
            when_no_agents: queue:billing
            hold: {evry: 30s}
            match_language: "yes"
        """)})
    assert "queues.yaml:2: defaults.offer_timeout: 2s is out of range" in errors
    assert ("queues.yaml:5: queues.billing.skills.biling: unknown skill 'biling' (did you mean 'billing'?); "
            "declare it under 'skills'") in errors
    assert "queues.yaml:5: queues.billing.skills.english: level 11 is not a whole number from 1 to 10" in errors
    assert ("queues.yaml:6: queues.billing.strategy: 'longest_idle' is not one of longest-idle, most-skilled, "
            "round-robin (did you mean 'longest-idle'?)") in errors
    assert "queues.yaml:9: queues.billing.escalation[1].after: escalation steps must come later and later" in errors
    assert "queues.yaml:10: queues.billing.on_max_wait: no queue 'genral'" in errors
    assert "queues.yaml:11: queues.billing.when_no_agents: a queue cannot overflow into itself" in errors
    assert "queues.yaml:12: queues.billing.hold.evry: unknown key 'evry' (did you mean 'every'?)" in errors
    assert "queues.yaml:13: queues.billing.match_language: expected true or false, not 'yes'" in errors


def test_flows_must_name_configured_queues_and_skills():
    errors = errors_of("""\
        nodes:
          q:
            queue: {name: biling, skills: {englsh: 1}}
        """, extra={"queues.yaml": textwrap.dedent(QUEUES)})
    assert "main.yaml:3: nodes.q.queue.name: no queue 'biling' in queues.yaml (did you mean 'billing'?)" in errors
    assert ("main.yaml:3: nodes.q.queue.skills.englsh: unknown skill 'englsh' (did you mean 'english'?); "
            "declare it in queues.yaml") in errors


def test_bundle_carries_the_routing_configuration():
    bundle = load_bundle({"main.yaml": "nodes:\n  q:\n    queue: {name: billing}\n",
                          "queues.yaml": textwrap.dedent(QUEUES)})
    assert bundle.routing.queues["billing"].skills == {"billing": 2} and "queues" not in bundle.flows
