"""The contest's data model (SQLAlchemy 2.0 typed ORM).

The database is the source of truth: submission files live here (a submission is "received" only
once its files and its row are committed together), and the engine can rebuild everything else
from these tables.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from server.db import Base
from server.names import clean_name, name_key, normalise_email
from server.states import EventState, SubmissionState, check_event_transition, check_transition


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


# No 0/O or 1/I/L: codes are read aloud and copied by hand between team mates.
_JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_split_seed() -> int:
    """A random seed for the public/private split of an event's hidden test set."""
    return secrets.randbelow(2**31 - 1) + 1


def new_join_code() -> str:
    """A short random code a team shares so that team mates can join it."""
    return "".join(secrets.choice(_JOIN_CODE_ALPHABET) for _ in range(8))


class UtcDateTime(TypeDecorator):
    """Stored as UTC; SQLite loses the zone, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use server.models.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ScoreSplit(enum.StrEnum):
    """Which data a score was computed on."""

    TRAIN = "train"  # the training part of a CV fold
    VALID = "valid"  # the validation part of a CV fold
    PUBLIC = "public"  # the public half of the hidden test set (live leaderboard)
    PRIVATE = "private"  # the private half, revealed at the close


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set for accounts created by the CSV import: the first login asks for a new password.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Part of every session and remember-me cookie (``get_id``): bumping it on a password change
    # or "log out everywhere" ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list[TeamMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("name")
    def _clean_name(self, _key: str, value: str) -> str:
        return clean_name(value, "Your name")

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    # Flask-Login's user protocol, without importing Flask here.
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        """``id:session_version``: a cookie made before the version changed no longer loads."""
        return f"{self.id}:{self.session_version}"


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # URL slug
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[EventState] = mapped_column(
        Enum(EventState, native_enum=False, length=16), default=EventState.DRAFT
    )
    # The ramp-workflow kit (problem.py) and the data folders its readers take, on every host:
    # get_train_data(public_data_dir) for students and workers, get_test_data(hidden_data_dir)
    # read by workers outside the sandbox only.
    kit_dir: Mapped[str] = mapped_column(String(500))
    public_data_dir: Mapped[str] = mapped_column(String(500))
    hidden_data_dir: Mapped[str] = mapped_column(String(500))
    # Folder names under the kit's submissions/ that the starting-kit zip gives students;
    # None gives every one (a public kit's reference submissions are public already).
    public_submissions: Mapped[list[str] | None] = mapped_column(JSON)
    # Draws the public (live) and private (final) halves of the hidden test set.
    hidden_split_seed: Mapped[int] = mapped_column(Integer, default=new_split_seed)
    use_gpu: Mapped[bool] = mapped_column(Boolean, default=False)
    min_gap_seconds: Mapped[int] = mapped_column(Integer, default=300)
    max_per_day: Mapped[int] = mapped_column(Integer, default=10)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    memory_limit_mb: Mapped[int] = mapped_column(Integer, default=8192)
    max_retries: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    teams: Mapped[list[Team]] = relationship(back_populates="event", cascade="all, delete-orphan")

    def set_state(self, new: EventState) -> None:
        """The only way to open or close an event: illegal moves raise, times are kept."""
        check_event_transition(self.state, new)
        self.state = new
        if new is EventState.OPEN:
            self.opened_at = self.opened_at or utcnow()
        else:
            self.closed_at = utcnow()

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="event", cascade="all, delete-orphan"
    )


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        # Look-alike names (case, dashes, width) are one name: server.names.name_key.
        Index("uq_teams_event_id_name_key", "event_id", "name_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Set with ``name`` (see _clean_name); casefold can lengthen a name, hence the room.
    name_key: Mapped[str] = mapped_column(String(300))
    # Shared by the team's founder with team mates, who type it to join.
    join_code: Mapped[str] = mapped_column(String(16), unique=True, default=new_join_code)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # When the latest submission was received. Intake updates this row first, which makes a
    # team's uploads wait for each other on SQLite and PostgreSQL alike (server/web/intake.py).
    last_submission_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    event: Mapped[Event] = relationship(back_populates="teams")
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(back_populates="team")

    @validates("name")
    def _clean_name(self, _key: str, value: str) -> str:
        """Invisible characters are refused; the key is kept in step with the name."""
        name = clean_name(value, "Team name")
        self.name_key = name_key(name)
        return name


class TeamMember(Base):
    """A user's place in one team of one event (a user is in at most one team per event)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[SubmissionState] = mapped_column(
        Enum(SubmissionState, native_enum=False, length=16),
        default=SubmissionState.QUEUED,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    # When it last entered the queue (creation, retry or instructor re-queue).
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Engine bookkeeping: the Dask key of the running job and the worker that holds it.
    job_key: Mapped[str | None] = mapped_column(String(200))
    worker_address: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # True when it ended through the platform's fault (e.g. retries spent on dead workers):
    # such a submission does not count against the team's rate limits.
    platform_fault: Mapped[bool] = mapped_column(Boolean, default=False)
    error_summary: Mapped[str | None] = mapped_column(String(500))
    # The student's own traceback, never the platform's internals.
    error_traceback: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[str | None] = mapped_column(Text)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    valid_seconds: Mapped[float | None] = mapped_column(Float)
    test_seconds: Mapped[float | None] = mapped_column(Float)
    # Worker time charged to the team, the basis of fair scheduling.
    compute_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    peak_gpu_memory_mb: Mapped[float | None] = mapped_column(Float)
    # The kit's picture of a few public predictions next to the truth (``preview_png`` hook).
    preview_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The kit's breakdown of the official score on the public half (``diagnostics`` hook).
    diagnostics: Mapped[list | None] = mapped_column(JSON)

    event: Mapped[Event] = relationship(back_populates="submissions")
    team: Mapped[Team] = relationship(back_populates="submissions")
    user: Mapped[User | None] = relationship()
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="SubmissionFile.name"
    )
    scores: Mapped[list[SubmissionScore]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )

    def set_state(self, new: SubmissionState) -> None:
        """The only way to change ``state``: illegal moves raise ``IllegalTransitionError``."""
        check_transition(self.state, new)
        self.state = new

    def score(self, split: ScoreSplit, metric: str, fold: int | None = None) -> float | None:
        """A stored score, or None; ``fold`` only for TRAIN/VALID."""
        for row in self.scores:
            if row.split == split and row.metric == metric and row.fold == fold:
                return row.value
        return None


class SubmissionFile(Base):
    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))  # sanitised base name, e.g. estimator.py
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    submission: Mapped[Submission] = relationship(back_populates="files")


class SubmissionScore(Base):
    __tablename__ = "submission_scores"
    __table_args__ = (UniqueConstraint("submission_id", "split", "fold", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    split: Mapped[ScoreSplit] = mapped_column(Enum(ScoreSplit, native_enum=False, length=16))
    fold: Mapped[int | None] = mapped_column(Integer)  # CV fold for TRAIN/VALID, else None
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    # Standard error on the hidden halves (jackknife over the items): which ranks differ.
    std_error: Mapped[float | None] = mapped_column(Float)

    submission: Mapped[Submission] = relationship(back_populates="scores")


class WorkerStatus(Base):
    """What the dispatcher last saw of each Dask worker (shown to instructors)."""

    __tablename__ = "worker_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(200), unique=True)
    resources: Mapped[str] = mapped_column(String(200), default="")
    running_submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="SET NULL")
    )
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DispatcherHeartbeat(Base):
    """One row per event's dispatcher: when it last ran a scheduling pass."""

    __tablename__ = "dispatcher_heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(200))
    scheduler_address: Mapped[str] = mapped_column(String(200))
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
