"""Sign-up, log-in, log-out and password change; passwords are hashed with argon2."""

from __future__ import annotations

from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from server.models import User
from server.web.database import get_db
from server.web.extensions import login_manager
from server.web.forms import ChangePasswordForm, LoginForm, LogoutForm, SignupForm

bp = Blueprint("auth", __name__, url_prefix="/auth")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """True when ``password`` matches; accounts without a password never match."""
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user_by_email(email: str) -> User | None:
    """Emails are compared case-insensitively, as students type them."""
    return (
        get_db()
        .scalars(select(User).where(func.lower(User.email) == email.strip().lower()))
        .one_or_none()
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return get_db().get(User, int(user_id))


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so ``?next=`` cannot send a student to another site."""
    if target and target.startswith("/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("events.index")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response:
    form = SignupForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if find_user_by_email(email) is not None:
            flash(f"An account already exists for {email}: log in instead.", "error")
        else:
            user = User(email=email, name=form.name.data.strip())
            user.password_hash = hash_password(form.password.data)
            db = get_db()
            db.add(user)
            try:
                db.commit()
            except IntegrityError:  # two sign-ups for one email at the same moment
                db.rollback()
                flash(f"An account already exists for {email}: log in instead.", "error")
            else:
                login_user(user)
                flash(f"Welcome, {user.name}! Your account is ready.", "success")
                return redirect(url_for("events.index"))
    return render_template("auth/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is None or not verify_password(user, form.password.data):
            flash("Wrong email or password.", "error")
        else:
            if _hasher.check_needs_rehash(user.password_hash or ""):
                user.password_hash = hash_password(form.password.data)
                get_db().commit()
            login_user(user, remember=form.remember.data)
            if user.must_change_password:
                flash("Choose a new password to replace the one you were given.", "info")
                return redirect(url_for("auth.change_password"))
            flash(f"Logged in as {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if LogoutForm().validate_on_submit():
        logout_user()
        flash("Logged out.", "info")
    return redirect(url_for("events.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user, form.current.data):
            flash("The current password is wrong.", "error")
        else:
            current_user.password_hash = hash_password(form.password.data)
            current_user.must_change_password = False
            get_db().commit()
            flash("Password changed.", "success")
            return redirect(url_for("events.index"))
    return render_template("auth/password.html", form=form)
