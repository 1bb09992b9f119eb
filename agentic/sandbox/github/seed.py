"""Build a `Store` from a seed document (YAML or JSON; format in docs/sandbox-github.md).

users:  [{login, token?, app?: bool, name?, email?, type?}]
repos:  [{owner, name, description?, private?, default_branch?, collaborators: {login: role},
          labels: [{name, color?, description?}], files: {path: text}, issues: [...], pulls: [...]}]
issues: [{title, body?, user, state?, labels?, assignees?, created_at?, locked?: bool, active_lock_reason?,
          comments: [{user, body, created_at?}]}]
pulls:  [{title, body?, user, head, base?, files: {path: text}, draft?}]  (creates branch `head` with those files)
apps:   [{id, slug, name?, owner?, public_key: PEM (or public_keys: [PEM]), client_id?, token_seconds?: 3600,
          permissions?: {issues: write, ...}, events?: [...],
          installations: [{account, id?, repositories?: all|[name]}]}]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from agentic.sandbox.github.apps import App, Installation, role_for
from agentic.sandbox.github.store import LOCK_REASONS, ROLES, Comment, Issue, Label, PullData, Repo, Store, now


class SeedError(ValueError):
    """The seed document is malformed; the message names the offending entry."""


def load_seed_file(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SeedError(f"{path}: the seed must be a mapping with `users` and `repos`")
    return data


def build_store(seed: dict[str, Any] | None) -> Store:
    store = Store()
    apply_seed(store, seed or {})
    return store


def apply_seed(store: Store, seed: dict[str, Any]) -> None:
    for entry in seed.get("users", []):
        user = store.user(entry["login"], type=entry.get("type", "Bot" if entry.get("app") else "User"))
        user.name, user.email = entry.get("name"), entry.get("email")
        if entry.get("token"):
            store.tokens[entry["token"]] = user.login.lower()
            if entry.get("app"):
                store.app_tokens.add(entry["token"])
    for entry in seed.get("repos", []):
        _seed_repo(store, entry)
    for entry in seed.get("apps", []):
        _seed_app(store, entry)


def _seed_app(store: Store, entry: dict[str, Any]) -> None:
    keys = entry.get("public_keys") or [entry.get("public_key")]
    if not all(isinstance(k, str) and "PUBLIC KEY" in k for k in keys):
        raise SeedError(f"app {entry.get('slug')!r}: `public_key` must be a PEM public key")
    app = App(id=int(entry["id"]), slug=entry["slug"], name=entry.get("name", entry["slug"]),
              owner=entry.get("owner", "acme"), public_keys=list(keys), client_id=entry.get("client_id", ""),
              events=list(entry.get("events", [])), token_seconds=float(entry.get("token_seconds", 3600)),
              created_at=now())
    if entry.get("permissions"):
        app.permissions = dict(entry["permissions"])
    store.apps.apps[app.id] = app
    store.user(app.bot_login, type="Bot")
    for item in entry.get("installations", []):
        repos = item.get("repositories", "all")
        installation = Installation(id=int(item.get("id") or store.next_id()), app_id=app.id, account=item["account"],
                                    repository_selection="all" if repos == "all" else "selected",
                                    repositories=[] if repos == "all" else
                                    [f"{item['account']}/{name}".lower() for name in repos], created_at=now())
        store.apps.installations[installation.id] = installation
        grant_installation(store, installation)


def grant_installation(store: Store, installation: Installation) -> None:
    """The app's bot may act on the repositories the installation covers (with its permissions' role)."""
    app = store.apps.apps[installation.app_id]
    for repo in store.repos.values():
        if installation.covers(repo) and app.bot_login.lower() not in repo.collaborators:
            repo.collaborators[app.bot_login.lower()] = role_for(app.permissions)


def _seed_repo(store: Store, entry: dict[str, Any]) -> None:
    owner = entry["owner"]
    if owner.lower() not in store.users:
        store.user(owner, type="Organization")
    created = entry.get("created_at", now())
    repo = Repo(id=store.next_id(), owner=store.users[owner.lower()].login, name=entry["name"],
                description=entry.get("description"), private=bool(entry.get("private", False)),
                default_branch=entry.get("default_branch", "main"), created_at=created)
    for login, role in (entry.get("collaborators") or {}).items():
        if role not in ROLES:
            raise SeedError(f"{repo.full_name}: collaborator {login!r} has role {role!r}; use one of {ROLES}")
        store.user(login)
        repo.collaborators[login.lower()] = role
    for label in entry.get("labels", []):
        label = {"name": label} if isinstance(label, str) else label
        repo.labels[label["name"].lower()] = Label(store.next_id(), label["name"], label.get("color", "ededed"),
                                                   label.get("description"), bool(label.get("default", False)))
    author = {"name": "Sandbox Seeder", "email": "seed@sandbox.invalid", "date": created}
    files = {path: text.encode() for path, text in (entry.get("files") or {"README.md": f"# {repo.name}\n"}).items()}
    first = repo.commit(None, files, "Initial commit", author)
    repo.refs[f"refs/heads/{repo.default_branch}"] = first.sha
    store.repos[repo.full_name.lower()] = repo
    for issue in entry.get("issues", []):
        _seed_issue(store, repo, issue)
    for pull in entry.get("pulls", []):
        _seed_pull(store, repo, pull, author)


def ensure_label(store: Store, repo: Repo, name: str) -> Label:
    """GitHub creates unknown labels on the fly when an issue names them."""
    key = name.lower()
    if key not in repo.labels:
        repo.labels[key] = Label(store.next_id(), name)
    return repo.labels[key]


def _seed_issue(store: Store, repo: Repo, entry: dict[str, Any]) -> Issue:
    created = entry.get("created_at", now())
    issue = Issue(id=store.next_id(), number=repo.next_number, title=entry["title"], body=entry.get("body"),
                  user=store.user(entry["user"]).login, state=entry.get("state", "open"), created_at=created,
                  labels=[ensure_label(store, repo, n).name for n in entry.get("labels", [])],
                  assignees=[store.user(a).login for a in entry.get("assignees", [])])
    if entry.get("locked") or entry.get("active_lock_reason"):
        reason = entry.get("active_lock_reason")
        if reason is not None and reason not in LOCK_REASONS:
            raise SeedError(f"{repo.full_name}: issue {entry['title']!r} has active_lock_reason {reason!r}; use one "
                            f"of {LOCK_REASONS}")
        issue.locked, issue.active_lock_reason = True, reason
    if issue.state == "closed":
        issue.closed_at, issue.state_reason = entry.get("closed_at", created), entry.get("state_reason", "completed")
    repo.next_number += 1
    repo.issues[issue.number] = issue
    for comment in entry.get("comments", []):
        c = Comment(store.next_id(), issue.number, store.user(comment["user"]).login, comment["body"],
                    created_at=comment.get("created_at", created))
        repo.comments[c.id] = c
        issue.comments.append(c.id)
        issue.updated_at = max(issue.updated_at, c.created_at)
    return issue


def _seed_pull(store: Store, repo: Repo, entry: dict[str, Any], author: dict) -> None:
    base = entry.get("base", repo.default_branch)
    tip = repo.refs[f"refs/heads/{base}"]
    head = repo.commit(tip, {p: t.encode() for p, t in (entry.get("files") or {}).items()},
                       entry.get("message", entry["title"]), author)
    repo.refs[f"refs/heads/{entry['head']}"] = head.sha
    issue = _seed_issue(store, repo, entry)
    issue.pull = PullData(store.next_id(), entry["head"], head.sha, base, draft=bool(entry.get("draft", False)))


DEMO_SEED = Path(__file__).resolve().parents[1] / "demo.yaml"
