"""The workbench's forms (Flask-WTF): every one carries a CSRF token, checked on submit."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workbench.outcomes import MAX_NOTE_CHARS, OFFICER_RESULTS, RESULT_TEXT


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask-wtf is untyped
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """Claim, release, log out: a button and its CSRF token."""


class OutcomeForm(FlaskForm):  # type: ignore[misc]
    result = RadioField(
        "What the inspection found",
        choices=[SelectChoice(result, RESULT_TEXT[result]) for result in OFFICER_RESULTS],
        validators=[DataRequired()],
    )
    amount = DecimalField(
        "Amount recovered (EUR, revenue adjustments only)",
        places=2,
        validators=[Optional(), NumberRange(min=0)],
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=MAX_NOTE_CHARS)])
