"""``ivr demo``: everything running locally, a demo call and a (simulated) agent who takes it."""

from __future__ import annotations

import os
from typing import Any

import click

from ivr.cli.call import _print_event
from ivr.cli.calls import format_call
from ivr.cli.common import DEMO_CALLER, DEMO_NUMBER, _redis, _settings
from ivr.cli.serve import _wait_forever
from ivr.runner.processes import DEFAULT_THREADS


def _demo_accounts(redis: Any, base_url: str) -> None:
    """Console accounts for the demo: supervisor 'sam' and agent 'ana' (billing, English), new passwords printed."""
    import secrets

    from ivr.store.accounts import AccountStore, Role
    from routing.acd import Distributor
    from routing.model import Agent
    Distributor(redis).register(Agent("ana", "Ana Lopez", {"billing": 7, "english": 5}, ("en",), 1, "client:ana"))
    store = AccountStore(redis)
    click.echo(f"consoles at {base_url}/ (new passwords each demo):")
    for username, role, name, agent_id in (("sam", Role.SUPERVISOR, "Sam Rivera", None),
                                           ("ana", Role.AGENT, "Ana Lopez", "ana")):
        password = secrets.token_urlsafe(9)
        if store.get(username) is None:
            store.create(username, password, role, name=name, agent_id=agent_id)
        else:
            store.set_password(username, password)
        click.echo(f"  {role.value:<10} {username} / {password}")


@click.command()
@click.option("--port", default=8080, show_default=True)
@click.option("--once", is_flag=True, help="Stop after the demo call instead of serving until Ctrl-C.")
def demo(port: int, once: bool) -> None:
    """Run everything locally and place a demo call that ends with a (simulated) agent."""
    from demo.backend import run_backend_in_thread
    from ivr.runner.processes import running_stack
    from ivr.simulator import HttpTransport, ScriptedCaller, SimulatedAgent, Simulator, TwilioRestStandIn
    from ivr.store.tokens import AgentTokens
    from routing.acd import Distributor
    from routing.model import Agent
    backend_url, stop_backend = run_backend_in_thread()
    rest = TwilioRestStandIn().start()
    click.echo(f"sample Northwind Energy backend on {backend_url}; Twilio's REST API simulated on {rest.url}")
    try:
        with running_stack(host="127.0.0.1", port=port, workers=2, threads=DEFAULT_THREADS, with_worker=True, quiet=True,
                           env_overrides={"IVR_SERVICE_BILLING_URL": backend_url, "TWILIO_API_URL": rest.url,
                                          "IVR_FLOWS_DIR": str(_settings().flows_dir)}) as stack:
            click.echo(f"IVR server on {stack.base_url}, RQ worker running, Redis at {stack.redis_url}")
            os.environ["TWILIO_AUTH_TOKEN"] = stack.auth_token
            os.environ["REDIS_URL"] = stack.redis_url
            redis = _redis(_settings())
            Distributor(redis).register(Agent("olivia", "Olivia", {"outages": 6, "english": 5}, ("en",), 1,
                                              "client:olivia"))
            _demo_accounts(redis, stack.base_url)
            agent = SimulatedAgent(stack.base_url, AgentTokens(redis).issue("olivia"), on_event=click.echo)
            agent_thread = agent.start_thread(max_calls=1)
            click.echo(f"\ndemo call from {DEMO_CALLER} to {DEMO_NUMBER}: English, account balance for 12345674, "
                       "then a power outage report that reaches the outage team\n")
            caller = ScriptedCaller(["1", "1", "12345674#", "1", "9", "2", "10003"])
            sim = Simulator(HttpTransport(stack.base_url), stack.auth_token, rest=rest, queue_patience=30)
            result = sim.place_call(DEMO_CALLER, DEMO_NUMBER, caller,
                                    on_event=_print_event)
            click.echo(f"  outcome: {result.outcome}\n")
            agent_thread.join(timeout=30)
            from ivr.store.calllog import CallLog
            record = CallLog(redis, _settings().calllog_ttl).get(result.call_sid)
            click.echo("the call log (ivr calls show):")
            click.echo(format_call(record) if record else "  (not found)")
            if once:
                agent.stop()
                return
            click.echo(f"\nThe system keeps running: try  ivr call --url {stack.base_url}  in another terminal "
                       "(Ctrl-C stops everything).")
            _wait_forever(stack)
            agent.stop()
    finally:
        rest.stop()
        stop_backend()
