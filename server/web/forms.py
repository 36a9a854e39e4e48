"""Flask-WTF forms: each one carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
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
    deblender = FileField("deblender.py", validators=[FileRequired()])
    extras = MultipleFileField("Extra files (optional)")


class EditForm(FlaskForm):
    name = StringField("Submission name", validators=[DataRequired()], description=NAME_HELP)
    source = TextAreaField("deblender.py", validators=[DataRequired()])


class LogoutForm(FlaskForm):
    """Logging out is a POST, so another site cannot log a student out with a link."""
