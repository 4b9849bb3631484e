"""The officers' pages (Flask, server-rendered): log in, the queue per hub and lane, a case
with its reasons, claim it, record its outcome.

Sessions are Flask's signed cookies (the officer's name and a stamp of their password
hash, so a password change ends older sessions); every form carries a CSRF token
(Flask-WTF). An officer works on the cases of their own hubs only: any other case answers
403. Pages show the verdict's non-personal fields only; nothing here reads an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from streams import metrics
from workbench import actions
from workbench.cases import audit_log, closures, get_case, lanes, queue
from workbench.forms import ActionForm, LoginForm, OutcomeForm
from workbench.officers import Officer, authenticate, load_officer
from workbench.outcomes import RESULT_TEXT, OutcomeError
from workbench.settings import WorkbenchSettings

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

MESSAGES = {
    actions.CLAIMED: "Case claimed: it is yours until you record its outcome or release it.",
    actions.RELEASED: "Case released to the queue.",
    actions.RECORDED: "Outcome recorded; it goes to the learner once.",
    actions.ALREADY: "Nothing to do: you did that already.",
    actions.TAKEN: "Another officer has this case.",
    actions.CLOSED: "This case is closed already.",
    actions.NOT_CLAIMED: "Claim the case before recording its outcome.",
}


@dataclass
class Workbench:
    """What the pages need: the case store, and whom to tell when an outcome was recorded."""

    engine: Engine
    settings: WorkbenchSettings
    on_recorded: Callable[[], None]


def create_app(
    engine: Engine,
    settings: WorkbenchSettings,
    production: bool = False,
    on_recorded: Callable[[], None] = lambda: None,
) -> Flask:
    """The workbench web application on the case store ``engine``."""
    app = Flask(__name__)
    lifetime = timedelta(hours=settings.session_hours)
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        SESSION_COOKIE_NAME="riskstream_workbench",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,  # production runs behind a TLS proxy
        PERMANENT_SESSION_LIFETIME=lifetime,
        WTF_CSRF_TIME_LIMIT=int(lifetime.total_seconds()),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )
    app.extensions["workbench"] = Workbench(engine, settings, on_recorded)
    csrf = CSRFProtect(app)
    from workbench.api import api

    csrf.exempt(api)  # bearer tokens, which browsers never send by themselves
    app.register_blueprint(api)
    app.jinja_env.filters.update(ago=_ago, utc=_utc, result_text=RESULT_TEXT.get)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    for code in (403, 404):
        app.register_error_handler(code, _error_page)
    _routes(app)
    return app


def _workbench() -> Workbench:
    from flask import current_app

    return cast(Workbench, current_app.extensions["workbench"])


def login_required(view: F) -> F:
    """Load the logged-in officer into ``g.officer``, or send the browser to the login page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        username = session.get("officer")
        officer = load_officer(_workbench().engine, username) if username else None
        if officer is None or session.get("stamp") != officer.session_stamp:
            session.clear()
            return redirect(url_for("login", next=request.full_path))
        g.officer = officer
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _routes(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        form = LoginForm()
        if form.validate_on_submit():
            officer = authenticate(_workbench().engine, form.username.data or "",
                                   form.password.data or "")
            if officer is not None:
                session.clear()
                session.permanent = True
                session["officer"], session["stamp"] = officer.username, officer.session_stamp
                return redirect(_safe_next(request.args.get("next")))
            flash("Unknown user name or wrong password.", "error")
        return render_template("login.html", form=form), 200 if request.method == "GET" else 401

    @app.post("/logout")
    @login_required
    def logout() -> ResponseReturnValue:
        if ActionForm().validate_on_submit():
            session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    @login_required
    def index() -> ResponseReturnValue:
        officer: Officer = g.officer
        hub, stream = request.args.get("hub") or None, request.args.get("stream") or None
        view = "closed" if request.args.get("view") == "closed" else "open"
        if hub and not officer.may_work_on(hub):
            abort(403)
        states = ("closed",) if view == "closed" else ("open", "claimed")
        engine = _workbench().engine
        return render_template(
            "queue.html", lanes=lanes(engine, officer), hub=hub, stream=stream, view=view,
            cases=queue(engine, officer, hub=hub, stream=stream, states=states),
        )

    @app.get("/cases/<event_id>")
    @login_required
    def case(event_id: str) -> ResponseReturnValue:
        found = _case_for(g.officer, event_id)
        return render_template("case.html", case=found, action=ActionForm(),
                               outcome=OutcomeForm())

    @app.post("/cases/<event_id>/claim")
    @login_required
    def claim(event_id: str) -> ResponseReturnValue:
        _case_for(g.officer, event_id)  # CSRFProtect has checked the token before this
        return _done(event_id, actions.claim(_workbench().engine, event_id, g.officer))

    @app.post("/cases/<event_id>/release")
    @login_required
    def release(event_id: str) -> ResponseReturnValue:
        _case_for(g.officer, event_id)
        return _done(event_id, actions.release(_workbench().engine, event_id, g.officer))

    @app.post("/cases/<event_id>/outcome")
    @login_required
    def outcome(event_id: str) -> ResponseReturnValue:
        found = _case_for(g.officer, event_id)
        form = OutcomeForm()
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for error in errors:
                    flash(str(error), "error")
            return render_template("case.html", case=found, action=ActionForm(),
                                   outcome=form), 422
        workbench = _workbench()
        try:
            status = actions.record(workbench.engine, event_id, g.officer, form.result.data or "",
                                    form.amount.data, form.note.data or "")
        except OutcomeError as exc:
            flash(str(exc), "error")
            return render_template("case.html", case=found, action=ActionForm(),
                                   outcome=form), 422
        if status == actions.RECORDED:
            for hub, result, source, decided_at, closed_at in closures(workbench.engine,
                                                                        [event_id]):
                metrics.record_case_closed(hub, result, source, decided_at, closed_at)
            workbench.on_recorded()
        return _done(event_id, status)

    @app.get("/audit")
    @login_required
    def audit() -> ResponseReturnValue:
        if not g.officer.supervisor:
            abort(403)
        return render_template("audit.html", entries=audit_log(_workbench().engine))


def _case_for(officer: Officer, event_id: str) -> Any:
    found = get_case(_workbench().engine, event_id)
    if found is None:
        abort(404)
    if not officer.may_work_on(found.hub):
        abort(403)
    return found


def _done(event_id: str, status: str) -> ResponseReturnValue:
    if status == actions.FORBIDDEN:
        abort(403)
    if status == actions.UNKNOWN:
        abort(404)
    ok = status in (actions.CLAIMED, actions.RELEASED, actions.RECORDED, actions.ALREADY)
    flash(MESSAGES.get(status, status), "info" if ok else "error")
    return redirect(url_for("case", event_id=event_id), code=303)


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another host."""
    if not target:
        return url_for("index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("index")
    return target


def _security_headers(response: Any) -> Any:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint not in ("static",):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _csrf_refused(error: CSRFError) -> ResponseReturnValue:
    return render_template(
        "error.html", code=400, title="Form refused",
        message="This form was not sent from a workbench page, or it expired "
                f"({error.description}). Reload the page and try again.",
    ), 400


def _error_page(error: Any) -> ResponseReturnValue:
    code = int(getattr(error, "code", 500))
    title, message = {
        403: ("Not your hub", "This case belongs to a hub you do not work at."),
        404: ("No such case", "There is no case with this id (yet)."),
    }.get(code, ("Error", "Something went wrong."))
    return render_template("error.html", code=code, title=title, message=message), code


def _ago(moment: datetime | None) -> str:
    """How long ago, briefly: 42 s, 7 min, 3 h, 2 d."""
    if moment is None:
        return "-"
    seconds = max(0.0, (datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _utc(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
