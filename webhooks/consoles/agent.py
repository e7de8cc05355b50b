"""The agent console: one page (``GET /agent``) from which an agent works a whole shift. Everything it shows and
does goes through the agent JSON API (``webhooks/api/agents.py``) with the console session; live updates come from
the agent's event stream. Signing out makes the agent offline (see :func:`_signed_out`)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from flask_login import user_logged_out

from ivr.services.desk import AGENT_CHOICES, MAX_NOTES
from ivr.store.accounts import Role
from routing.model import AgentStatus, Outcome
from webhooks.auth import role_required, signed_in_account
from webhooks.consoles.pages import add_nav

log = logging.getLogger(__name__)
bp = Blueprint("agent_console", __name__)
#: Labels of the agent's statuses as the console shows them (``busy``: on a call, shown, never chosen).
STATUS_LABELS = {AgentStatus.AVAILABLE: "Available", AgentStatus.BREAK: "On break", AgentStatus.OFFLINE: "Offline",
                 AgentStatus.BUSY: "On a call", AgentStatus.WRAP_UP: "Wrap-up"}


def init_app(app: Flask) -> None:
    """Register the page, link it in the agents' navigation, and sign agents out of routing when they sign out."""
    app.register_blueprint(bp)
    add_nav(app, "agent_console.console", "Console", Role.AGENT)
    user_logged_out.connect(_signed_out, app)


@bp.get("/agent")
@role_required(Role.AGENT)
def console() -> Any:
    """The console page; the script fills it from the API and keeps it live."""
    account = signed_in_account()
    return render_template("agent_console.html", title="Agent console", agent_id=account.agent_id,  # type: ignore
                           choices=[(c.value, STATUS_LABELS[c]) for c in AGENT_CHOICES],
                           labels={s.value: label for s, label in STATUS_LABELS.items()}, max_notes=MAX_NOTES)


def _signed_out(sender: Flask, user: Any = None, **_extra: Any) -> None:
    """An agent who signs out can take no calls: their pending offers go to the next agent at once (declined),
    and they become offline, whatever they were (a call in progress goes on; its end frees their slot)."""
    account = getattr(user, "account", None)
    if account is None or account.role is not Role.AGENT or not account.agent_id:
        return
    calls = current_app.extensions["ivr"].calls
    router = calls.router
    try:
        if router.agent(account.agent_id) is None:
            return
        if router.status(account.agent_id)[0] is not AgentStatus.OFFLINE:
            router.set_status(account.agent_id, AgentStatus.OFFLINE)  # first: no new offer comes to them
        for offer in router.offers_for(account.agent_id):
            ended, offers = router.end_offer(offer.reservation, Outcome.DECLINED)
            if ended is not None:
                calls.queueing.offer_ended(ended, Outcome.DECLINED.value)
            for again in offers:
                calls.queueing.offered(again)
    except Exception:  # signing out must work even when routing cannot be reached; presence expiry catches up
        log.exception("could not make agent %s offline at sign-out", account.agent_id)
