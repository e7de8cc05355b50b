"""Call history for supervisors: search the call log (``GET /calls``) and read one call's timeline
(``GET /calls/<sid>``).

Dates are whole days in the viewer's timezone: the page's script sends the browser's (``tz``, an IANA name such
as ``America/New_York``); without one (no script, or a tool calling ``/api/calls``) days are UTC days.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from wtforms import Form, IntegerField, SelectChoice, SelectField, StringField
from wtforms.fields import DateField
from wtforms.validators import Length, NumberRange, Optional, Regexp, ValidationError

from ivr.store.accounts import Role
from ivr.store.callsearch import MAX_SCAN, CallQuery, Outcome, SearchResult
from webhooks.auth import role_required
from webhooks.consoles import timeline
from webhooks.consoles.pages import add_nav

bp = Blueprint("history", __name__)
PAGE_SIZE = 25
#: Calls one search reads at most (see :data:`ivr.store.callsearch.MAX_SCAN`).
SEARCH_CAP = MAX_SCAN
MAX_PAGE = 1000
#: Query parameters of a search, carried from one page of results to the next.
SEARCH_FIELDS = ("number", "from", "to", "outcome", "tz")
CALL_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NARROW = ("The search stopped after reading {scanned} calls: there may be more matches. Narrow it down with a "
          "shorter date range, a number or an outcome.")
BAD_DATE = "Enter a date as YYYY-MM-DD, for example 2026-11-23."


def _has_digits(form: Form, field: StringField) -> None:
    if field.data and not field.errors and not re.search(r"[0-9]", field.data):
        raise ValidationError("Enter some digits of the number.")


def _known_zone(form: Form, field: StringField) -> None:
    if field.data:
        try:
            ZoneInfo(field.data)
        except (ValueError, KeyError, OSError):
            raise ValidationError(f"Unknown timezone {field.data!r}: use a name such as America/New_York.") from None


class SearchForm(Form):
    """The search: what the page's form and ``GET /api/calls`` accept as query parameters."""

    number = StringField("Number (caller or called)", filters=[lambda v: v.strip() if v else v], validators=[
        Optional(), Length(max=32, message="At most 32 characters."),
        Regexp(r"^[0-9+()\-.\s]*$", message="Only digits, spaces and + - ( ) . please."), _has_digits])
    since = DateField("From", name="from", validators=[Optional()], invalid_value_message=BAD_DATE)
    until = DateField("To", name="to", validators=[Optional()], invalid_value_message=BAD_DATE)
    outcome = SelectField("Outcome", choices=[SelectChoice("", "Any outcome")] + [SelectChoice(o.value, o.label)
                                                                               for o in Outcome],
                          validate_choice=False)
    tz = StringField("Timezone", validators=[Optional(), Length(max=64), _known_zone])
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(1, MAX_PAGE)])

    def validate_outcome(self, field: SelectField) -> None:
        if field.data and field.data not in {o.value for o in Outcome}:
            raise ValidationError(f"Unknown outcome {field.data[:32]!r}: one of "
                                  f"{', '.join(o.value for o in Outcome)}.")

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")

    @property
    def zone(self) -> ZoneInfo:
        return timeline.zone(self.tz.data if not self.tz.errors else None)

    def query(self) -> CallQuery:
        """The validated search (call :meth:`validate` first)."""
        tz = self.zone
        since = _day_start(self.since.data, tz) if self.since.data else None
        # 'to' is inclusive: up to the last moment before the next day starts
        until = _day_start(self.until.data + timedelta(days=1), tz) - 1e-6 if self.until.data else None
        return CallQuery(number=self.number.data or "", since=since, until=until,
                         outcome=Outcome(self.outcome.data) if self.outcome.data else None)

    def problems(self) -> dict[str, list[str]]:
        """Errors by parameter name (``from``, ``to``...)."""
        return {field.name: list(field.errors) for field in self if field.errors}


def _day_start(day: date, tz: ZoneInfo) -> float:
    return datetime.combine(day, time.min, tzinfo=tz).timestamp()


def search_form(args: Mapping[str, str]) -> SearchForm:
    """A search form filled from query parameters and validated (see :meth:`SearchForm.problems`)."""
    form = SearchForm(MultiDict(args))
    form.validate()
    return form


def search(form: SearchForm, *, limit: int, offset: int) -> SearchResult:
    return current_app.extensions["ivr"].calllog.search(form.query(), limit=limit, offset=offset, cap=SEARCH_CAP)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav(app, "history.calls", "Calls", Role.SUPERVISOR)


def _agent_names() -> dict[str, str]:
    router = current_app.extensions["ivr"].calls.router
    try:
        return {agent.id: agent.name for agent in router.all_agents()}
    except Exception:  # the names are a nicety: the history still shows agent ids
        return {}


@bp.get("/calls")
@role_required(Role.SUPERVISOR)
def calls() -> Any:
    """The search form and one page of results (the newest calls when nothing is asked)."""
    form = search_form(request.args)
    problems = form.problems()
    result = None
    if not problems:
        page = form.page.data or 1
        result = search(form, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    # only the search's own parameters: never pass url_for() anything it would read as an option (_anchor...)
    args = {name: request.args[name] for name in SEARCH_FIELDS if request.args.get(name)}
    pages = {}
    if result is not None:
        page = form.page.data or 1
        if page > 1:
            pages["newer"] = url_for("history.calls", **args, page=page - 1)
        if result.more:
            pages["older"] = url_for("history.calls", **args, page=page + 1)
    return render_template(
        "history_calls.html", title="Calls", form=form, result=result, pages=pages, tz=form.zone.key,
        narrow=NARROW.format(scanned=result.scanned) if result is not None and result.capped else None,
        agents=_agent_names() if result is not None and result.calls else {}, timeline=timeline,
        problems=problems), 400 if problems else 200


@bp.get("/calls/<call_sid>")
@role_required(Role.SUPERVISOR)
def call(call_sid: str) -> Any:
    """One call: its summary, queue wait, agent and wrap-up, voicemail transcript and every step in order."""
    if not CALL_SID.match(call_sid):
        abort(404)
    record = current_app.extensions["ivr"].calllog.get(call_sid)
    if record is None:
        abort(404)
    tz = timeline.zone(request.args.get("tz", "")[:64])
    agent = record.get("agent")
    return render_template(
        "history_call.html", title=f"Call {call_sid}", call=record, tz=tz.key, timeline=timeline,
        rows=timeline.rows(record, tz), wait=timeline.queue_wait(record),
        agent_name=_agent_names().get(agent, "") if agent else "",
        back=url_for("history.calls", tz=tz.key))
