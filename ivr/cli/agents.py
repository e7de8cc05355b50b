"""``ivr agents``: the call distributor's agents, and playing one at a console."""

from __future__ import annotations

import click

from ivr.cli.common import _redis, _settings


@click.group()
def agents() -> None:
    """Agents of the call distributor."""


def _skill_levels(values: tuple[str, ...]) -> dict[str, int]:
    skills = {}
    for value in values:
        name, _, level = value.partition("=")
        if not name or (level and not level.isdigit()):
            raise click.BadParameter(f"{value!r}: use skill or skill=level (1-10)", param_hint="--skill")
        skills[name] = int(level or 1)
    return skills


@agents.command("add")
@click.argument("agent_id")
@click.option("--name", required=True)
@click.option("--skill", "skills", multiple=True, help="skill=level (1-10), repeatable")
@click.option("--language", "languages", multiple=True, help="repeatable, e.g. en, es")
@click.option("--capacity", default=1, show_default=True)
@click.option("--contact", default="", help="client:IDENTITY, a phone number or a sip: address")
def agents_add(agent_id: str, name: str, skills: tuple[str, ...], languages: tuple[str, ...], capacity: int,
               contact: str) -> None:
    """Create or update an agent and print a new API token for them (shown once)."""
    from ivr.store.tokens import AgentTokens
    from routing.acd import Distributor
    from routing.errors import RoutingError
    from routing.model import Agent
    redis = _redis(_settings())
    try:
        agent = Agent(agent_id, name, _skill_levels(skills), languages, capacity, contact or f"client:{agent_id}")
    except RoutingError as e:
        raise click.ClickException(str(e)) from e
    Distributor(redis).register(agent)
    click.echo(f"agent {agent_id}: skills {dict(agent.skills)}, contact {agent.contact}")
    click.echo(f"token (keep it secret, shown once): {AgentTokens(redis).issue(agent_id)}")


@agents.command("list")
def agents_list() -> None:
    """Agents with their status and current load."""
    from routing.acd import Distributor
    acd = Distributor(_redis(_settings()))
    for agent in acd.all_agents():
        status, load = acd.status(agent.id)
        skills = ", ".join(f"{s}={lvl}" for s, lvl in sorted(agent.skills.items()))
        click.echo(f"{agent.id:<12} {agent.name:<20} {status.value:<10} load {load}/{agent.capacity}  {skills}")


@agents.command("simulate")
@click.option("--url", required=True, help="The IVR server.")
@click.option("--token", required=True, envvar="IVR_AGENT_TOKEN", help="The agent's API token.")
@click.option("--decline", is_flag=True, help="Decline every offer instead of accepting.")
@click.option("--calls", type=int, default=None, help="Stop after this many offers.")
def agents_simulate(url: str, token: str, decline: bool, calls: int | None) -> None:
    """Play an agent at a console: go available and take the calls offered (Ctrl-C to stop)."""
    from ivr.simulator import SimulatedAgent
    agent = SimulatedAgent(url, token, accept=not decline, on_event=click.echo)
    try:
        agent.work(max_calls=calls)
    except KeyboardInterrupt:
        agent.stop()
