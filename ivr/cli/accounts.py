"""``ivr accounts``: the console accounts of agents and supervisors."""

from __future__ import annotations

import os

import click

from ivr.cli.common import _redis, _settings


@click.group()
def accounts() -> None:
    """Console accounts: agents and supervisors who sign in to the browser consoles."""


def _new_password(password: str | None) -> str:
    """The password given, else $IVR_PASSWORD, else asked twice (never shown)."""
    password = password or os.environ.get("IVR_PASSWORD")
    if password:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@accounts.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["agent", "supervisor"]), required=True)
@click.option("--agent", "agent_id", default=None, help="The routing agent an agent account works as "
                                                        "(default: the username).")
@click.option("--name", default="", help="Display name (default: the agent's name or the username).")
@click.option("--password", default=None, help="Prefer $IVR_PASSWORD or the prompt: options show in 'ps'.")
def accounts_add(username: str, role: str, agent_id: str | None, name: str, password: str | None) -> None:
    """Create a console account. An agent account works as a routing agent created by 'ivr agents add'."""
    from ivr.store.accounts import AccountError, AccountStore, Role
    from routing.acd import Distributor
    redis = _redis(_settings())
    if role == Role.AGENT.value:
        agent_id = agent_id or username
        agent = Distributor(redis).agent(agent_id)
        if agent is None:
            raise click.ClickException(f"there is no agent '{agent_id}': create it first with 'ivr agents add'")
        name = name or agent.name
    try:
        account = AccountStore(redis).create(username, _new_password(password), Role(role), name=name,
                                             agent_id=agent_id)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"account {account.username} ({account.role.value}"
               + (f", agent {account.agent_id}" if account.agent_id else "") + ") created")


@accounts.command("list")
def accounts_list() -> None:
    """Every console account with its role."""
    from ivr.store.accounts import AccountStore
    for account in AccountStore(_redis(_settings())).all():
        state = "disabled" if account.disabled else "enabled"
        click.echo(f"{account.username:<20} {account.role.value:<11} {state:<9} {account.agent_id or '':<12} "
                   f"{account.name}")


@accounts.command("password")
@click.argument("username")
@click.option("--password", default=None, help="Prefer $IVR_PASSWORD or the prompt: options show in 'ps'.")
def accounts_password(username: str, password: str | None) -> None:
    """Set a new password (ends the account's sessions)."""
    from ivr.store.accounts import AccountError, AccountStore
    try:
        AccountStore(_redis(_settings())).set_password(username, _new_password(password))
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"password of {username} changed")


@accounts.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def accounts_disable(username: str, enable: bool) -> None:
    """Disable an account (ending its sessions), or enable it again."""
    from ivr.store.accounts import AccountError, AccountStore
    try:
        AccountStore(_redis(_settings())).set_disabled(username, not enable)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")
