"""In-memory GitHub state: users, repos, a tiny content-addressed git model, issues/PRs, comments, checks.

One object graph, no I/O. Handlers mutate it; `render.py` turns it into GitHub JSON. Ids come from one global
counter (GitHub ids are global too); issue and PR numbers share one counter per repo, as on GitHub.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agentic.sandbox.github.apps import Apps

ROLES = ("read", "triage", "write", "maintain", "admin")  # ascending power
LOCK_REASONS = ("off-topic", "too heated", "resolved", "spam")  # GitHub's `lock_reason` values
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_sha(kind: str, data: bytes) -> str:
    """Git's object id: sha1 of '<kind> <len>\\0<data>' (real for blobs; trees/commits use our own payload)."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # User | Organization | Bot
    name: str | None = None
    email: str | None = None
    created_at: str = field(default_factory=now)


@dataclass
class Commit:
    sha: str
    tree: dict[str, str]  # path -> blob sha (flat: directories are implied by paths)
    parents: list[str]
    message: str
    author: dict  # {name, email, date}
    tree_sha: str


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class Reaction:
    id: int
    user: str
    content: str
    created_at: str = field(default_factory=now)


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: str = field(default_factory=now)
    updated_at: str = ""
    reactions: list[Reaction] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at


@dataclass
class Review:
    """A pull request review; `state` PENDING until submitted (then APPROVED, CHANGES_REQUESTED or COMMENTED)."""

    id: int
    pull_number: int
    user: str
    body: str
    state: str
    commit_id: str
    submitted_at: str | None = None


@dataclass
class ReviewComment:
    """A comment on a line of a pull request's diff; every one belongs to a review (GitHub makes a single-comment
    COMMENTED review for a comment posted on its own)."""

    id: int
    pull_number: int
    review_id: int
    user: str
    body: str
    path: str
    commit_id: str
    line: int | None = None
    side: str = "RIGHT"
    in_reply_to_id: int | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = ""
    reactions: list[Reaction] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at


@dataclass
class PullData:
    id: int
    head_ref: str
    head_sha: str  # last known tip; refreshed from the branch while it exists
    base_ref: str
    draft: bool = False
    maintainer_can_modify: bool = True
    merged_at: str | None = None
    requested_reviewers: list[str] = field(default_factory=list)


@dataclass
class Issue:
    id: int
    number: int
    title: str
    user: str
    body: str | None = None
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    locked: bool = False
    active_lock_reason: str | None = None  # one of LOCK_REASONS, or None
    created_at: str = field(default_factory=now)
    updated_at: str = ""
    closed_at: str | None = None
    closed_by: str | None = None
    comments: list[int] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: PullData | None = None

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    output: dict = field(default_factory=dict)
    app: str | None = None  # login of the app's bot user


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    creator: str
    target_url: str | None = None
    description: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = ""

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    description: str | None = None
    private: bool = False
    default_branch: str = "main"
    created_at: str = field(default_factory=now)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role (ROLES)
    labels: dict[str, Label] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit sha
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    check_runs: list[CheckRun] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    next_number: int = 1
    pushed_at: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def role(self, login: str | None) -> str | None:
        """The user's role; the owner is admin; public repos grant read to everyone (as on GitHub)."""
        if login is None:
            return None if self.private else "read"
        if login == self.owner:
            return "admin"
        return self.collaborators.get(login) or (None if self.private else "read")

    def can(self, login: str | None, need: str) -> bool:
        role = self.role(login)
        return role is not None and ROLES.index(role) >= ROLES.index(need)

    # --- git ---------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> Commit | None:
        """A branch name, `heads/x`, `refs/heads/x`, tag or (prefix of a) commit sha -> commit."""
        for candidate in (ref, f"refs/{ref}", f"refs/heads/{ref}", f"refs/tags/{ref}"):
            if candidate in self.refs:
                return self.commits[self.refs[candidate]]
        if len(ref) >= 7:
            for sha, commit in self.commits.items():
                if sha.startswith(ref):
                    return commit
        return None

    def commit(self, parent: str | None, changes: dict[str, bytes | None], message: str, author: dict) -> Commit:
        """Create a commit on top of `parent` applying `changes` (None deletes a path)."""
        tree = dict(self.commits[parent].tree) if parent else {}
        for path, data in changes.items():
            if data is None:
                tree.pop(path, None)
            else:
                sha = git_sha("blob", data)
                self.blobs[sha] = data
                tree[path] = sha
        tree_sha = tree_id(tree)
        payload = f"tree {tree_sha}\nparent {parent}\nauthor {author}\n{time.monotonic_ns()}\n\n{message}"
        commit = Commit(git_sha("commit", payload.encode()), tree, [parent] if parent else [], message, author,
                        tree_sha)
        self.commits[commit.sha] = commit
        self.pushed_at = author["date"]
        return commit

    def history(self, sha: str) -> list[Commit]:
        out, seen = [], set()
        todo = [sha]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.commits:
                continue
            seen.add(current)
            out.append(self.commits[current])
            todo.extend(self.commits[current].parents)
        return out


def tree_id(tree: dict[str, str]) -> str:
    return git_sha("tree", "\n".join(f"{p} {s}" for p, s in sorted(tree.items())).encode())


@dataclass
class Store:
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login (never dumped)
    app_tokens: set[str] = field(default_factory=set)  # tokens that act as a GitHub App installation
    apps: Apps = field(default_factory=Apps)  # GitHub Apps, their installations and installation tokens
    repos: dict[str, Repo] = field(default_factory=dict)  # "owner/name" (lower-case) -> Repo
    last_id: int = 1_000_000

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def user(self, login: str, *, type: str = "User") -> User:
        """Get or create (GitHub objects always point at a real account; seeds may name owners implicitly)."""
        key = login.lower()
        if key not in self.users:
            self.users[key] = User(login=login, id=self.next_id(), type=type)
        return self.users[key]

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def issue_for_pull_id(self, repo: Repo, head_ref: str) -> Issue | None:
        return next((i for i in repo.issues.values() if i.pull and i.pull.head_ref == head_ref
                     and i.state == "open"), None)
