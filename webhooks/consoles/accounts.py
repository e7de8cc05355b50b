"""Account management for supervisors (``GET /accounts``): list the console accounts, create agent and supervisor
accounts (an agent account works as a routing agent: an existing one, or a new one made here with its skills and
languages), set a new password, disable and enable. A supervisor cannot disable their own account.

Every change is a form POST carrying the CSRF token (checked by :func:`webhooks.auth.role_required`); invalid
values come back as the same form with the error next to its field (status 400).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_user
from wtforms import Form, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional, Regexp, ValidationError

from ivr.store.accounts import MAX_PASSWORD, MIN_PASSWORD, USERNAME, Account, AccountError, AccountStore, Role
from routing.errors import RoutingError
from routing.model import Agent
from webhooks.auth import SignedIn, role_required, signed_in_account
from webhooks.consoles.pages import add_nav

bp = Blueprint("accounts_console", __name__)
#: The routing agent choice meaning "make a new routing agent whose id is the username".
NEW_AGENT = "+new"
SKILL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _clean(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def parse_skills(text: str) -> dict[str, int]:
    """``"billing=5, english"`` → ``{"billing": 5, "english": 1}``; ValueError says what is wrong."""
    skills: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.replace(";", ",").split(","))):
        name, _, level = (piece.strip() for piece in item.partition("="))
        name = name.lower()
        if not SKILL.match(name):
            raise ValueError(f"{item!r} is not a skill name: letters, digits, '_' or '-'.")
        if level and not (level.isdigit() and 1 <= int(level) <= 10):
            raise ValueError(f"{item!r}: a skill level is a whole number from 1 to 10.")
        skills[name] = int(level or 1)
    return skills


def parse_languages(text: str) -> tuple[str, ...]:
    languages = tuple(filter(None, (part.strip() for part in text.replace(";", ",").split(","))))
    for language in languages:
        if not LANGUAGE.match(language):
            raise ValueError(f"{language!r} is not a language code such as en, es or ko.")
    return languages


PASSWORD_RULES = [InputRequired("Enter a password."),
                  Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
                         message=f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters.")]
SAME_PASSWORD = [EqualTo("password", "The two passwords differ.")]


class PasswordForm(Form):
    password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField("Repeat the password", validators=SAME_PASSWORD)


class OwnPasswordForm(PasswordForm):
    current = PasswordField("Current password", validators=[InputRequired("Enter your current password.")])


class NewAccountForm(Form):
    """A new account. The routing agent fields matter only for the agent role."""

    username = StringField("Username", filters=[_clean, lambda v: v.lower() if v else v], validators=[
        InputRequired("Enter a username."),
        Regexp(USERNAME.pattern, message="2 to 32 characters: lower-case letters, digits, '.', '_' or '-', "
                                         "starting with a letter or digit.")])
    name = StringField("Full name", filters=[_clean], validators=[Optional(), Length(max=80)])
    role = SelectField("Role", choices=[SelectChoice(Role.AGENT.value, "Agent"),
                                        SelectChoice(Role.SUPERVISOR.value, "Supervisor")])
    agent_id = SelectField("Routing agent", validate_choice=False)
    skills = StringField("Skills", filters=[_clean], validators=[Length(max=400)])
    languages = StringField("Languages", filters=[_clean], validators=[Length(max=100)])
    password = PasswordField("Password", validators=PASSWORD_RULES)
    confirm = PasswordField("Repeat the password", validators=SAME_PASSWORD)

    def setup(self, store: AccountStore, agents: list[Agent], known_skills: frozenset[str] | None) -> "NewAccountForm":
        """What validation checks against: the accounts, the routing agents and the skills the queues use."""
        self.store, self.agents, self.known_skills = store, {a.id: a for a in agents}, known_skills
        self.taken = {a.agent_id: a.username for a in store.all() if a.agent_id}
        self.agent_id.choices = [SelectChoice("", "Choose a routing agent…"),
                                 SelectChoice(NEW_AGENT, "A new routing agent (id = username)")] + [
            SelectChoice(a.id, f"{a.name} ({a.id})" + (f", account {self.taken[a.id]}" if a.id in self.taken else ""))
            for a in agents]
        return self

    @property
    def is_agent(self) -> bool:
        return self.role.data == Role.AGENT.value

    def validate_username(self, field: StringField) -> None:
        if field.data and self.store.get(field.data) is not None:
            raise ValidationError(f"There is already an account '{field.data}'.")

    def validate_agent_id(self, field: SelectField) -> None:
        if not self.is_agent:
            return
        if not field.data:
            raise ValidationError("An agent account works as a routing agent: choose one, or a new one.")
        if field.data == NEW_AGENT:
            if self.username.data and self.username.data in self.agents:
                raise ValidationError(f"There is already a routing agent '{self.username.data}': choose it from "
                                      "the list.")
            return
        if field.data not in self.agents:
            raise ValidationError(f"There is no routing agent '{field.data[:64]}'.")
        if field.data in self.taken:
            raise ValidationError(f"Routing agent '{field.data}' already has the account '{self.taken[field.data]}'.")

    def validate_skills(self, field: StringField) -> None:
        if not (self.is_agent and self.agent_id.data == NEW_AGENT):
            return
        try:
            skills = parse_skills(field.data or "")
        except ValueError as e:
            raise ValidationError(str(e)) from None
        if not skills:
            raise ValidationError("Give the new routing agent at least one skill, e.g. billing=5, english=3.")
        unknown = sorted(set(skills) - self.known_skills) if self.known_skills else []
        if unknown:
            raise ValidationError(f"No queue uses the skill{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                  f"known skills: {', '.join(sorted(self.known_skills or ()))}.")

    def validate_languages(self, field: StringField) -> None:
        if self.is_agent and self.agent_id.data == NEW_AGENT:
            try:
                parse_languages(field.data or "")
            except ValueError as e:
                raise ValidationError(str(e)) from None


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav(app, "accounts_console.accounts", "Accounts", Role.SUPERVISOR)


def _store() -> AccountStore:
    return AccountStore(current_app.extensions["ivr"].redis)


def _router() -> Any:
    return current_app.extensions["ivr"].calls.router


def _known_skills() -> frozenset[str] | None:
    """The skills the published queues know (None when no routing configuration is published)."""
    try:
        _version, bundle = current_app.extensions["ivr"].repo.current()
    except Exception:
        return None
    return frozenset(bundle.routing.skills) if bundle.routing and bundle.routing.skills else None


def _new_form(data: Any = None) -> NewAccountForm:
    return NewAccountForm(data).setup(_store(), _router().all_agents(), _known_skills())


def _page(form: NewAccountForm, status: int = 200) -> Any:
    return render_template("accounts.html", title="Accounts", accounts=_store().all(), form=form,
                           agents={a.id: a for a in _router().all_agents()}, me=signed_in_account(),
                           new_agent=NEW_AGENT), status


@bp.get("/accounts")
@role_required(Role.SUPERVISOR)
def accounts() -> Any:
    """Every account, and the form for a new one."""
    return _page(_new_form())


@bp.post("/accounts")
@role_required(Role.SUPERVISOR)
def create() -> Any:
    form = _new_form(request.form)
    if not form.validate():
        return _page(form, 400)
    role = Role(form.role.data)
    agent_id = None
    if role is Role.AGENT:
        agent_id = form.username.data if form.agent_id.data == NEW_AGENT else form.agent_id.data
    name = form.name.data or ""
    try:
        new_agent = None
        if role is Role.AGENT and form.agent_id.data == NEW_AGENT:
            new_agent = Agent(agent_id, name or form.username.data, parse_skills(form.skills.data or ""),
                              parse_languages(form.languages.data or ""), 1, f"client:{agent_id}")
        account = _store().create(form.username.data, form.password.data, role, name=name, agent_id=agent_id)
    except (AccountError, RoutingError, ValueError) as e:
        form.username.errors = [*form.username.errors, str(e)]
        return _page(form, 400)
    if new_agent is not None:
        _router().register(new_agent)
    flash(f"Account {account.username} ({account.role.value}) created"
          + (f", working as routing agent {agent_id}" if agent_id else "") + ".")
    return redirect(url_for("accounts_console.accounts"))


def _account_or_404(username: str) -> Account:
    account = _store().get(username[:64]) if USERNAME.match(username[:64]) else None
    if account is None:
        abort(404)
    return account


def _account_page(account: Account, form: PasswordForm | None = None, status: int = 200) -> Any:
    agent = _router().agent(account.agent_id) if account.agent_id else None
    return render_template("account.html", title=f"Account {account.username}", shown=account, agent=agent,
                           form=form or PasswordForm(), me=signed_in_account()), status


@bp.get("/accounts/<username>")
@role_required(Role.SUPERVISOR)
def account(username: str) -> Any:
    """One account: set its password, disable or enable it."""
    return _account_page(_account_or_404(username))


@bp.post("/accounts/<username>/password")
@role_required(Role.SUPERVISOR)
def password(username: str) -> Any:
    account = _account_or_404(username)
    form = PasswordForm(request.form)
    if not form.validate():
        return _account_page(account, form, 400)
    store = _store()
    store.set_password(account.username, form.password.data)  # ends the account's sessions
    me = signed_in_account()
    if me is not None and me.username == account.username:  # but not the one that changed it
        login_user(SignedIn(store.get(account.username)))  # type: ignore[arg-type]
    flash(f"New password set for {account.username}; their open sessions have ended.")
    return redirect(url_for("accounts_console.account", username=account.username))


@bp.post("/accounts/<username>/disable")
@role_required(Role.SUPERVISOR)
def disable(username: str) -> Any:
    account = _account_or_404(username)
    me = signed_in_account()
    if me is not None and me.username == account.username:
        flash_error = "You cannot disable your own account: ask another supervisor."
        return render_template("error.html", title="Not disabled", message=flash_error), 400
    _store().set_disabled(account.username, True)
    flash(f"Account {account.username} is disabled and signed out everywhere.")
    return redirect(url_for("accounts_console.account", username=account.username))


@bp.post("/accounts/<username>/enable")
@role_required(Role.SUPERVISOR)
def enable(username: str) -> Any:
    account = _account_or_404(username)
    _store().set_disabled(account.username, False)
    flash(f"Account {account.username} is enabled again.")
    return redirect(url_for("accounts_console.account", username=account.username))


@bp.route("/password", methods=["GET", "POST"])
@role_required(Role.AGENT, Role.SUPERVISOR)
def own_password() -> Any:
    """Any signed-in account changes its own password (the current one first); its other sessions end, this one
    goes on."""
    me = signed_in_account()
    assert me is not None  # role_required
    form = OwnPasswordForm(request.form if request.method == "POST" else None)
    if request.method == "POST":
        if form.validate():
            store = _store()
            if store.authenticate(me.username, form.current.data or "") is None:
                form.current.errors = [*form.current.errors, "This is not your current password."]
            else:
                store.set_password(me.username, form.password.data)
                login_user(SignedIn(store.get(me.username)))  # type: ignore[arg-type]
                flash("Your password is changed; your other sessions have ended.")
                return redirect(url_for("pages.home"))
        return render_template("own_password.html", title="Change your password", form=form), 400
    return render_template("own_password.html", title="Change your password", form=form)

