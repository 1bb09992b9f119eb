"""Store objects -> GitHub REST JSON. API `url`s point at the simulator (`base`); `html_url`s at github.com,
as GitHub's own payloads do. Every object carries the fields GitHub's description marks required."""

from __future__ import annotations

import base64
import difflib

from agentic.sandbox.github.store import (
    REACTIONS,
    CheckRun,
    Comment,
    Commit,
    Issue,
    Label,
    Reaction,
    Repo,
    Review,
    ReviewComment,
    Status,
    Store,
    User,
    tree_id,
)

WEB = "https://github.com"


def node_id(prefix: str, ident: int | str) -> str:
    return f"{prefix}_kwDO{base64.urlsafe_b64encode(str(ident).encode()).decode().rstrip('=')}"


class Renderer:
    def __init__(self, store: Store, base: str, viewer: str | None = None) -> None:
        self.store, self.base, self.viewer = store, base.rstrip("/"), viewer

    # --- accounts -----------------------------------------------------------------------------------------
    def user(self, login: str | None) -> dict | None:
        if login is None:
            return None
        u: User = self.store.user(login)
        api = f"{self.base}/users/{u.login}"
        return {
            "login": u.login, "id": u.id, "node_id": node_id("U", u.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4", "gravatar_id": "",
            "url": api, "html_url": f"{WEB}/{u.login}", "followers_url": f"{api}/followers",
            "following_url": api + "/following{/other_user}", "gists_url": api + "/gists{/gist_id}",
            "starred_url": api + "/starred{/owner}{/repo}", "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": api + "/events{/privacy}",
            "received_events_url": f"{api}/received_events", "type": u.type, "user_view_type": "public",
            "site_admin": False,
        }

    def public_user(self, login: str) -> dict:
        u = self.store.user(login)
        owned = [r for r in self.store.repos.values() if r.owner == u.login and not r.private]
        return {**self.user(login), "name": u.name, "company": None, "blog": "", "location": None,
                "email": u.email, "hireable": None, "bio": None, "twitter_username": None,
                "public_repos": len(owned), "public_gists": 0, "followers": 0, "following": 0,
                "created_at": u.created_at, "updated_at": u.created_at}

    # --- repositories -------------------------------------------------------------------------------------
    def repo(self, r: Repo, *, full: bool = False) -> dict:
        api, web = f"{self.base}/repos/{r.full_name}", f"{WEB}/{r.full_name}"
        role = r.role(self.viewer)
        rank = ["read", "triage", "write", "maintain", "admin"].index(role) if role else -1
        open_count = sum(1 for i in r.issues.values() if i.state == "open")
        out = {
            "id": r.id, "node_id": node_id("R", r.id), "name": r.name, "full_name": r.full_name,
            "private": r.private, "owner": self.user(r.owner), "html_url": web, "description": r.description,
            "fork": False, "url": api,
            "archive_url": api + "/{archive_format}{/ref}", "assignees_url": api + "/assignees{/user}",
            "blobs_url": api + "/git/blobs{/sha}", "branches_url": api + "/branches{/branch}",
            "collaborators_url": api + "/collaborators{/collaborator}", "comments_url": api + "/comments{/number}",
            "commits_url": api + "/commits{/sha}", "compare_url": api + "/compare/{base}...{head}",
            "contents_url": api + "/contents/{+path}", "contributors_url": f"{api}/contributors",
            "deployments_url": f"{api}/deployments", "downloads_url": f"{api}/downloads",
            "events_url": f"{api}/events", "forks_url": f"{api}/forks", "git_commits_url": api + "/git/commits{/sha}",
            "git_refs_url": api + "/git/refs{/sha}", "git_tags_url": api + "/git/tags{/sha}",
            "git_url": f"git://github.com/{r.full_name}.git", "issue_comment_url": api + "/issues/comments{/number}",
            "issue_events_url": api + "/issues/events{/number}", "issues_url": api + "/issues{/number}",
            "keys_url": api + "/keys{/key_id}", "labels_url": api + "/labels{/name}",
            "languages_url": f"{api}/languages", "merges_url": f"{api}/merges",
            "milestones_url": api + "/milestones{/number}",
            "notifications_url": api + "/notifications{?since,all,participating}",
            "pulls_url": api + "/pulls{/number}", "releases_url": api + "/releases{/id}",
            "ssh_url": f"git@github.com:{r.full_name}.git", "stargazers_url": f"{api}/stargazers",
            "statuses_url": api + "/statuses/{sha}", "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription", "tags_url": f"{api}/tags", "teams_url": f"{api}/teams",
            "trees_url": api + "/git/trees{/sha}", "clone_url": f"{web}.git", "mirror_url": None,
            "hooks_url": f"{api}/hooks", "svn_url": web, "homepage": None, "language": "Python",
            "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0,
            "size": sum(len(b) for b in r.blobs.values()) // 1024, "default_branch": r.default_branch,
            "open_issues_count": open_count, "open_issues": open_count, "is_template": False, "topics": [],
            "has_issues": True, "has_projects": True, "has_wiki": True, "has_pages": False, "has_downloads": True,
            "has_discussions": False, "archived": False, "disabled": False,
            "visibility": "private" if r.private else "public", "pushed_at": r.pushed_at or r.created_at,
            "created_at": r.created_at, "updated_at": r.pushed_at or r.created_at, "license": None,
            "allow_forking": True, "web_commit_signoff_required": False,
            "permissions": {"admin": rank >= 4, "maintain": rank >= 3, "push": rank >= 2, "triage": rank >= 1,
                            "pull": rank >= 0},
        }
        if full:
            out.update({"network_count": 0, "subscribers_count": 0})
        return out

    # --- issues & comments --------------------------------------------------------------------------------
    def label(self, r: Repo, label: Label) -> dict:
        return {"id": label.id, "node_id": node_id("LA", label.id),
                "url": f"{self.base}/repos/{r.full_name}/labels/{label.name}", "name": label.name,
                "color": label.color, "default": label.default, "description": label.description}

    def association(self, r: Repo, login: str) -> str:
        if login == r.owner:
            return "OWNER"
        return "COLLABORATOR" if login.lower() in r.collaborators else "NONE"

    def rollup(self, url: str, reactions: list[Reaction]) -> dict:
        counts = {c: sum(1 for x in reactions if x.content == c) for c in REACTIONS}
        return {"url": url, "total_count": len(reactions), **counts}

    def issue(self, r: Repo, i: Issue) -> dict:
        api = f"{self.base}/repos/{r.full_name}/issues/{i.number}"
        kind = "pull" if i.pull else "issues"
        assignees = [self.user(a) for a in i.assignees]
        out = {
            "url": api, "repository_url": f"{self.base}/repos/{r.full_name}", "labels_url": api + "/labels{/name}",
            "comments_url": f"{api}/comments", "events_url": f"{api}/events",
            "html_url": f"{WEB}/{r.full_name}/{kind}/{i.number}",
            "id": i.id, "node_id": node_id("I", i.id), "number": i.number, "title": i.title, "user": self.user(i.user),
            "labels": [self.label(r, r.labels[n.lower()]) for n in i.labels], "state": i.state,
            "locked": i.locked, "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "comments": len(i.comments), "created_at": i.created_at, "updated_at": i.updated_at,
            "closed_at": i.closed_at, "author_association": self.association(r, i.user),
            "active_lock_reason": i.active_lock_reason if i.locked else None, "body": i.body,
            "closed_by": self.user(i.closed_by),
            "reactions": self.rollup(f"{api}/reactions", i.reactions), "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None, "state_reason": i.state_reason,
        }
        if i.pull:
            pulls = f"{self.base}/repos/{r.full_name}/pulls/{i.number}"
            html = f"{WEB}/{r.full_name}/pull/{i.number}"
            out["draft"] = i.pull.draft
            out["pull_request"] = {"url": pulls, "html_url": html, "diff_url": f"{html}.diff",
                                   "patch_url": f"{html}.patch", "merged_at": i.pull.merged_at}
        return out

    def comment(self, r: Repo, c: Comment) -> dict:
        api = f"{self.base}/repos/{r.full_name}/issues/comments/{c.id}"
        kind = "pull" if r.issues[c.issue_number].pull else "issues"
        return {
            "url": api, "html_url": f"{WEB}/{r.full_name}/{kind}/{c.issue_number}#issuecomment-{c.id}",
            "issue_url": f"{self.base}/repos/{r.full_name}/issues/{c.issue_number}", "id": c.id,
            "node_id": node_id("IC", c.id), "user": self.user(c.user), "created_at": c.created_at,
            "updated_at": c.updated_at, "author_association": self.association(r, c.user), "body": c.body,
            "reactions": self.rollup(f"{api}/reactions", c.reactions), "performed_via_github_app": None,
        }

    def reaction(self, x: Reaction) -> dict:
        return {"id": x.id, "node_id": node_id("REA", x.id), "user": self.user(x.user), "content": x.content,
                "created_at": x.created_at}

    # --- pull requests ------------------------------------------------------------------------------------
    def pull(self, r: Repo, i: Issue) -> dict:
        p = i.pull
        assert p is not None
        api = f"{self.base}/repos/{r.full_name}/pulls/{i.number}"
        html = f"{WEB}/{r.full_name}/pull/{i.number}"
        head_sha = r.refs.get(f"refs/heads/{p.head_ref}", p.head_sha)
        base_sha = r.refs.get(f"refs/heads/{p.base_ref}", head_sha)
        additions, deletions, changed = self.diffstat(r, base_sha, head_sha)
        issue = self.issue(r, i)
        owner = self.user(r.owner)
        side = lambda ref, sha: {"label": f"{r.owner}:{ref}", "ref": ref, "sha": sha, "user": owner,  # noqa: E731
                                 "repo": self.repo(r)}
        merged = p.merged_at is not None
        return {
            "url": api, "id": p.id, "node_id": node_id("PR", p.id), "html_url": html, "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch", "issue_url": issue["url"], "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": f"{self.base}/repos/{r.full_name}/pulls/comments" + "{/number}",
            "comments_url": issue["comments_url"],
            "statuses_url": f"{self.base}/repos/{r.full_name}/statuses/{head_sha}",
            "number": i.number, "state": i.state, "locked": i.locked, "title": i.title, "user": issue["user"],
            "body": i.body, "labels": issue["labels"], "milestone": None,
            "active_lock_reason": i.active_lock_reason if i.locked else None,
            "created_at": i.created_at, "updated_at": i.updated_at, "closed_at": i.closed_at,
            "merged_at": p.merged_at, "merge_commit_sha": None, "assignee": issue["assignee"],
            "assignees": issue["assignees"], "requested_reviewers": [self.user(u) for u in p.requested_reviewers],
            "requested_teams": [], "head": side(p.head_ref, head_sha), "base": side(p.base_ref, base_sha),
            "_links": {k: {"href": v} for k, v in {
                "self": api, "html": html, "issue": issue["url"], "comments": issue["comments_url"],
                "review_comments": f"{api}/comments", "review_comment": issue["url"].replace(
                    f"/issues/{i.number}", "/pulls/comments{/number}"),
                "commits": f"{api}/commits",
                "statuses": f"{self.base}/repos/{r.full_name}/statuses/{head_sha}"}.items()},
            "author_association": issue["author_association"], "auto_merge": None, "draft": p.draft,
            "merged": merged, "mergeable": None if merged else True, "rebaseable": not merged,
            "mergeable_state": "clean" if i.state == "open" else "unknown", "merged_by": None,
            "comments": len(i.comments),
            "review_comments": sum(1 for c in r.review_comments.values() if c.pull_number == i.number),
            "maintainer_can_modify": p.maintainer_can_modify,
            "commits": max(1, len(set(c.sha for c in r.history(head_sha)) - set(c.sha for c in r.history(base_sha)))),
            "additions": additions, "deletions": deletions, "changed_files": changed,
        }

    def review(self, r: Repo, v: Review) -> dict:
        pulls = f"{self.base}/repos/{r.full_name}/pulls/{v.pull_number}"
        html = f"{WEB}/{r.full_name}/pull/{v.pull_number}#pullrequestreview-{v.id}"
        out = {"id": v.id, "node_id": node_id("PRR", v.id), "user": self.user(v.user), "body": v.body,
               "state": v.state, "html_url": html, "pull_request_url": pulls, "author_association":
               self.association(r, v.user), "_links": {"html": {"href": html}, "pull_request": {"href": pulls}},
               "commit_id": v.commit_id}
        if v.submitted_at:  # GitHub leaves it out of a PENDING review
            out["submitted_at"] = v.submitted_at
        return out

    def review_comment(self, r: Repo, c: ReviewComment) -> dict:
        api = f"{self.base}/repos/{r.full_name}/pulls/comments/{c.id}"
        pulls = f"{self.base}/repos/{r.full_name}/pulls/{c.pull_number}"
        html = f"{WEB}/{r.full_name}/pull/{c.pull_number}#discussion_r{c.id}"
        out = {
            "url": api, "pull_request_review_id": c.review_id, "id": c.id, "node_id": node_id("PRRC", c.id),
            "diff_hunk": f"@@ -1 +1 @@ {c.path}", "path": c.path, "position": c.line, "original_position": c.line,
            "commit_id": c.commit_id, "original_commit_id": c.commit_id, "user": self.user(c.user), "body": c.body,
            "created_at": c.created_at, "updated_at": c.updated_at, "html_url": html, "pull_request_url": pulls,
            "author_association": self.association(r, c.user),
            "_links": {"self": {"href": api}, "html": {"href": html}, "pull_request": {"href": pulls}},
            "line": c.line, "side": c.side, "original_line": c.line, "start_line": None, "original_start_line": None,
            "start_side": None, "subject_type": "line", "reactions": self.rollup(f"{api}/reactions", c.reactions),
        }
        if c.in_reply_to_id:
            out["in_reply_to_id"] = c.in_reply_to_id
        return out

    def diffstat(self, r: Repo, base_sha: str, head_sha: str) -> tuple[int, int, int]:
        a, b = r.commits[base_sha].tree, r.commits[head_sha].tree
        adds = dels = changed = 0
        for path in set(a) | set(b):
            if a.get(path) == b.get(path):
                continue
            changed += 1
            old = r.blobs[a[path]].decode(errors="replace").splitlines() if path in a else []
            new = r.blobs[b[path]].decode(errors="replace").splitlines() if path in b else []
            for line in difflib.ndiff(old, new):
                adds += line.startswith("+ ")
                dels += line.startswith("- ")
        return adds, dels, changed

    # --- git & contents -----------------------------------------------------------------------------------
    def ref(self, r: Repo, name: str, sha: str) -> dict:
        api = f"{self.base}/repos/{r.full_name}"
        return {"ref": name, "node_id": node_id("REF", name + r.full_name), "url": f"{api}/git/{name}",
                "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"}}

    def git_user(self, c: Commit) -> dict:
        return dict(c.author)

    def git_commit(self, r: Repo, c: Commit) -> dict:
        api = f"{self.base}/repos/{r.full_name}"
        return {"sha": c.sha, "node_id": node_id("C", c.sha), "url": f"{api}/git/commits/{c.sha}",
                "html_url": f"{WEB}/{r.full_name}/commit/{c.sha}", "author": self.git_user(c),
                "committer": self.git_user(c), "message": c.message,
                "tree": {"sha": c.tree_sha, "url": f"{api}/git/trees/{c.tree_sha}"},
                "parents": [{"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{WEB}/{r.full_name}/commit/{p}"}
                            for p in c.parents],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None}}

    def commit(self, r: Repo, c: Commit) -> dict:
        api = f"{self.base}/repos/{r.full_name}"
        return {
            "url": f"{api}/commits/{c.sha}", "sha": c.sha, "node_id": node_id("C", c.sha),
            "html_url": f"{WEB}/{r.full_name}/commit/{c.sha}", "comments_url": f"{api}/commits/{c.sha}/comments",
            "commit": {"url": f"{api}/git/commits/{c.sha}", "author": self.git_user(c), "committer": self.git_user(c),
                       "message": c.message, "comment_count": 0,
                       "tree": {"sha": c.tree_sha, "url": f"{api}/git/trees/{c.tree_sha}"},
                       "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                        "verified_at": None}},
            "author": None, "committer": None,
            "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{WEB}/{r.full_name}/commit/{p}"}
                        for p in c.parents],
        }

    def content_entry(self, r: Repo, ref: str, path: str, sha: str, kind: str, size: int) -> dict:
        api = f"{self.base}/repos/{r.full_name}"
        self_url = f"{api}/contents/{path}?ref={ref}"
        git = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        html = f"{WEB}/{r.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
        return {"name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "size": size, "url": self_url,
                "html_url": html, "git_url": git,
                "download_url": (f"https://raw.githubusercontent.com/{r.full_name}/{ref}/{path}"
                                 if kind == "file" else None),
                "type": kind, "_links": {"self": self_url, "git": git, "html": html}}

    def file(self, r: Repo, ref: str, path: str, blob_sha: str) -> dict:
        data = r.blobs[blob_sha]
        b64 = base64.b64encode(data).decode()
        # GitHub wraps base64 at 60 columns with a trailing newline.
        wrapped = "".join(b64[i:i + 60] + "\n" for i in range(0, len(b64), 60))
        return {**self.content_entry(r, ref, path, blob_sha, "file", len(data)), "content": wrapped,
                "encoding": "base64"}

    def directory(self, r: Repo, ref: str, tree: dict[str, str], prefix: str) -> list[dict]:
        entries: dict[str, dict] = {}
        start = f"{prefix}/" if prefix else ""
        for path, sha in sorted(tree.items()):
            if not path.startswith(start):
                continue
            head, _, rest = path[len(start):].partition("/")
            child = start + head
            if rest:
                if child not in entries:
                    sub = {p: s for p, s in tree.items() if p.startswith(child + "/")}
                    entries[child] = self.content_entry(r, ref, child, tree_id(sub), "dir", 0)
            else:
                entries[child] = self.content_entry(r, ref, child, sha, "file", len(r.blobs[sha]))
        return list(entries.values())

    # --- checks & statuses --------------------------------------------------------------------------------
    def check_run(self, r: Repo, c: CheckRun) -> dict:
        api = f"{self.base}/repos/{r.full_name}"
        pulls = [{"id": i.pull.id, "number": i.number, "url": f"{api}/pulls/{i.number}",
                  "head": {"ref": i.pull.head_ref, "sha": c.head_sha, "repo": {"id": r.id, "url": api, "name": r.name}},
                  "base": {"ref": i.pull.base_ref, "sha": r.refs.get(f"refs/heads/{i.pull.base_ref}", c.head_sha),
                           "repo": {"id": r.id, "url": api, "name": r.name}}}
                 for i in r.issues.values()
                 if i.pull and i.state == "open" and r.refs.get(f"refs/heads/{i.pull.head_ref}") == c.head_sha]
        return {
            "id": c.id, "head_sha": c.head_sha, "node_id": node_id("CR", c.id), "external_id": c.external_id,
            "url": f"{api}/check-runs/{c.id}", "html_url": f"{WEB}/{r.full_name}/runs/{c.id}",
            "details_url": c.details_url, "status": c.status, "conclusion": c.conclusion,
            "started_at": c.started_at, "completed_at": c.completed_at,
            "output": {"title": c.output.get("title"), "summary": c.output.get("summary"),
                       "text": c.output.get("text"), "annotations_count": 0,
                       "annotations_url": f"{api}/check-runs/{c.id}/annotations"},
            "name": c.name, "check_suite": {"id": c.id}, "app": None, "pull_requests": pulls,
        }

    def status(self, r: Repo, s: Status) -> dict:
        return {"url": f"{self.base}/repos/{r.full_name}/statuses/{s.sha}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{self.store.user(s.creator).id}?v=4",
                "id": s.id, "node_id": node_id("SC", s.id), "state": s.state, "description": s.description,
                "target_url": s.target_url, "context": s.context, "created_at": s.created_at,
                "updated_at": s.updated_at, "creator": self.user(s.creator)}
