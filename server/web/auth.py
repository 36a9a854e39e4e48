"""Sign-up, log-in, log-out and password change; passwords are hashed with argon2.

Sessions and remember-me cookies carry the account's ``session_version`` (``User.get_id``): a
password change or "log out everywhere" bumps it, which ends every other session at once.
Failed log-ins are counted per account and client address (Flask-Limiter), and an unknown
email costs the same argon2 verification as a known one.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from server.models import User
from server.names import NameRefusedError, normalise_email
from server.passwords import hash_password, needs_rehash, verify_hash
from server.web.database import get_db
from server.web.extensions import limiter, login_manager
from server.web.forms import ChangePasswordForm, LoginForm, LogoutForm, SignupForm

bp = Blueprint("auth", __name__, url_prefix="/auth")
# One message whether the email has an account already or may not sign up: the page must not
# tell a stranger which addresses have accounts.
SIGNUP_REFUSED = (
    "No account could be created for this email address. If it already has one, log in; "
    "sign-up may also be limited to your school's addresses (ask your instructor)."
)


def verify_password(user: User | None, password: str) -> bool:
    """True when ``password`` is ``user``'s; unknown users and accounts without a password
    never match, after the same argon2 work as a real check."""
    return verify_hash(user.password_hash if user is not None else None, password)


def find_user_by_email(email: str) -> User | None:
    """Emails are compared normalised (NFKC, lower case), as students type them."""
    try:
        email = normalise_email(email)
    except NameRefusedError:
        return None
    return get_db().scalars(select(User).where(func.lower(User.email) == email)).one_or_none()


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user of an ``id:version`` cookie value, unless the version has moved on since."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None  # a cookie from before versions, or forged
    user = get_db().get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def _safe_next(target: str | None) -> str:
    """A path of this site from ``?next=``; anything else gives the events page.

    Browsers read ``\\`` as ``/`` and skip tabs and newlines inside a URL, so the value is
    judged as a browser would read it: ``/\\evil.example`` and ``////evil.example`` are both
    another host, and a control character is refused outright.
    """
    default = url_for("events.index")
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    target = target.replace("\\", "/")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return default
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _login_account_key() -> str:
    """Failed log-ins are counted per client address and account, the email normalised as
    the look-up does (a full-width spelling of an email is the same account)."""
    email = request.form.get("email", "")
    try:
        email = normalise_email(email)
    except NameRefusedError:
        pass  # no such account can exist: counted under the raw text
    return f"{get_remote_address()}|{email}"


def _form_redisplayed(response: Response) -> bool:
    """A refused form comes back as a page (200); an accepted one redirects."""
    return response.status_code != 302


def _account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _address_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def signup_allowed(email: str) -> bool:
    """Whether ``email`` may sign up: anyone, unless SIGNUP_ALLOWED_EMAILS/DOMAINS list some."""
    config = current_app.config
    emails = {normalise_email(e) for e in config["SIGNUP_ALLOWED_EMAILS"]}
    domains = {d.strip().lower().lstrip("@") for d in config["SIGNUP_ALLOWED_DOMAINS"]}
    if not emails and not domains:
        return True
    return email in emails or email.rpartition("@")[2] in domains


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response:
    if not current_app.config["SIGNUP_ENABLED"]:
        return render_template("auth/signup_closed.html")
    form = SignupForm()
    if form.validate_on_submit():
        # Hashed first, whatever happens next: a refusal takes as long as a success.
        password_hash = hash_password(form.password.data)
        try:
            user = User(email=form.email.data, name=form.name.data)
        except NameRefusedError as error:
            flash(str(error), "error")
            return render_template("auth/signup.html", form=form)
        user.password_hash = password_hash
        if not signup_allowed(user.email) or find_user_by_email(user.email) is not None:
            flash(SIGNUP_REFUSED, "error")
            return render_template("auth/signup.html", form=form)
        db = get_db()
        db.add(user)
        try:
            db.commit()
        except IntegrityError:  # two sign-ups for one email at the same moment
            db.rollback()
            flash(SIGNUP_REFUSED, "error")
        else:
            login_user(user)
            flash(f"Welcome, {user.name}! Your account is ready.", "success")
            return redirect(url_for("events.index"))
    return render_template("auth/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _account_limit, key_func=_login_account_key, methods=["POST"], deduct_when=_form_redisplayed
)
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_form_redisplayed)
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if not verify_password(user, form.password.data):
            flash("Wrong email or password.", "error")
        else:
            if needs_rehash(user.password_hash or ""):
                user.password_hash = hash_password(form.password.data)
                get_db().commit()
            login_user(user, remember=form.remember.data)
            if user.must_change_password:
                flash("Choose a new password to replace the one you were given.", "info")
                return redirect(url_for("auth.change_password"))
            flash(f"Logged in as {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def end_all_sessions(user: User) -> None:
    """Every session and remember-me cookie of ``user`` stops working (committed)."""
    user.session_version += 1
    get_db().commit()


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Log out everywhere: a session cookie copied before (say, on a lab computer) dies too.

    Sessions live in signed cookies, not on the server, so ending one means ending them all.
    """
    if LogoutForm().validate_on_submit():
        if current_user.is_authenticated:
            end_all_sessions(current_user)
        logout_user()
        flash("Logged out. Your account's other sessions have ended too.", "info")
    return redirect(url_for("events.index"))


def _user_key() -> str:
    return f"user:{current_user.get_id()}"


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_account_limit, key_func=_user_key, methods=["POST"], deduct_when=_form_redisplayed)
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user, form.current.data):
            flash("The current password is wrong.", "error")
        else:
            user = current_user._get_current_object()
            user.password_hash = hash_password(form.password.data)
            user.must_change_password = False
            # Ends the sessions of whoever else knew the old password; this one starts anew.
            end_all_sessions(user)
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            login_user(user, remember=remembered in request.cookies)
            flash("Password changed. Your other sessions are now logged out.", "success")
            return redirect(url_for("events.index"))
    return render_template("auth/password.html", form=form)
