"""Flask-WTF forms: each one carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

MIN_PASSWORD_LENGTH = 10
NAME_HELP = "1 to 40 letters, digits, '_' or '-'"
# A plain shape check: the email_validator package (DNS look-ups) is not worth a dependency.
PASSWORD_LENGTH = Length(
    min=MIN_PASSWORD_LENGTH, max=200, message=f"Use at least {MIN_PASSWORD_LENGTH} characters."
)
EMAIL_SHAPE = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter a valid email address.")


class SignupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    email = EmailField("Email", validators=[DataRequired(), EMAIL_SHAPE, Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), PASSWORD_LENGTH])
    confirm = PasswordField(
        "Repeat password", validators=[EqualTo("password", message="The passwords differ.")]
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), PASSWORD_LENGTH])
    confirm = PasswordField(
        "Repeat new password", validators=[EqualTo("password", message="The passwords differ.")]
    )


class CreateTeamForm(FlaskForm):
    team_name = StringField("Team name", validators=[DataRequired(), Length(max=100)])


class JoinTeamForm(FlaskForm):
    join_code = StringField("Join code", validators=[DataRequired(), Length(max=16)])


class UploadForm(FlaskForm):
    name = StringField("Submission name", validators=[DataRequired()], description=NAME_HELP)
    # The kit's element files and any extra files, sorted out by name on the way in.
    files = MultipleFileField("Files", validators=[FileRequired()])


class EditForm(FlaskForm):
    """One text area per workflow element of the event's kit, in the kit's order."""

    name = StringField("Submission name", validators=[DataRequired()], description=NAME_HELP)
    sources: FieldList


def edit_form(n_elements: int, prefix: str) -> EditForm:
    """An :class:`EditForm` with one text area per element of the kit's workflow."""
    sources = TextAreaField(validators=[DataRequired()])
    form_class = type(
        "KitEditForm",
        (EditForm,),
        {"sources": FieldList(sources, min_entries=n_elements, max_entries=n_elements)},
    )
    return form_class(prefix=prefix)


class LogoutForm(FlaskForm):
    """Logging out is a POST, so another site cannot log a student out with a link."""
