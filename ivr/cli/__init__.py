"""The ``ivr`` command line: check, publish, test and try flows; read the call log; run the system.

One module per command group, added here to the ``main`` group. The package is the command line's composition root:
it wires Redis, the store, the app and the simulator together, so it is the one place in ``ivr`` allowed to reach the
HTTP layer (imported lazily, inside the commands that serve or call: :mod:`ivr.cli.call`, :mod:`ivr.cli.demo`).
"""

from __future__ import annotations

import click

from ivr.cli import accounts, agents, call, calls, demo, flows, prompts, serve, speech


@click.group()
@click.version_option(package_name="ivr-routing", message="%(version)s")
def main() -> None:
    """Voice IVR and skill-based call routing: flows, calls and the servers that run them."""


for command in (flows.flows, calls.calls, accounts.accounts, agents.agents, speech.speech, prompts.prompts,
                serve.worker, serve.serve, call.call, demo.demo):
    main.add_command(command)
