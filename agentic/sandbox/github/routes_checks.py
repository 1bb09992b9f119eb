"""Check runs (created only by GitHub App tokens, as on GitHub) and commit statuses."""

from __future__ import annotations

from agentic.sandbox.github.store import CheckRun, Status, now
from agentic.sandbox.github.web import ApiError, Ctx, Route, invalid

R = "/repos/{owner}/{repo}"
STATES = ("error", "failure", "pending", "success")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")


def check_runs_for_ref(ctx: Ctx):
    repo = ctx.repo()
    commit = repo.resolve(ctx.params["ref"])
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['ref']}")
    runs = [c for c in repo.check_runs if c.head_sha == commit.sha]
    q = ctx.query
    if q.get("check_name"):
        runs = [c for c in runs if c.name == q["check_name"]]
    if q.get("status"):
        runs = [c for c in runs if c.status == q["status"]]
    runs.sort(key=lambda c: c.id, reverse=True)
    page, headers = ctx.paginate(runs)
    return 200, {"total_count": len(runs), "check_runs": [ctx.render.check_run(repo, c) for c in page]}, headers


def check_run_create(ctx: Ctx):
    repo = ctx.repo()
    if ctx.request.state.token not in ctx.store.app_tokens:
        raise ApiError(403, "You must authenticate via a GitHub App.")
    body = ctx.body or {}
    if not body.get("name"):
        raise invalid("CheckRun", "name", "missing_field")
    head = repo.resolve(str(body.get("head_sha", "")))
    if head is None or len(str(body["head_sha"])) != 40:
        raise invalid("CheckRun", "head_sha")
    status = body.get("status", "completed" if body.get("conclusion") else "queued")
    if status not in ("queued", "in_progress", "completed", "waiting", "requested", "pending"):
        raise invalid("CheckRun", "status")
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS or status == "completed" and conclusion is None:
        raise invalid("CheckRun", "conclusion", "missing_field" if conclusion is None else "invalid")
    run = CheckRun(ctx.store.next_id(), head.sha, body["name"], status, conclusion, body.get("details_url"),
                   body.get("external_id"), body.get("started_at") or now(),
                   body.get("completed_at") or (now() if status == "completed" else None),
                   dict(body.get("output") or {}), ctx.login)
    repo.check_runs.append(run)
    rendered = ctx.render.check_run(repo, run)
    # GitHub delivers `created`, and `completed` as well for a run created already completed.
    for action in ("created", "completed") if status == "completed" else ("created",):
        ctx.emit("check_run", {"action": action, "check_run": rendered, "repository": ctx.render.repo(repo),
                               "sender": ctx.render.user(ctx.login)})
    return 201, rendered


def status_create(ctx: Ctx):
    repo = ctx.repo("write")
    body = ctx.body or {}
    commit = repo.resolve(ctx.params["sha"])
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['sha']}")
    if body.get("state") not in STATES:
        raise invalid("Status", "state", "missing_field" if body.get("state") is None else "invalid")
    status = Status(ctx.store.next_id(), commit.sha, body["state"], body.get("context") or "default", ctx.login,
                    body.get("target_url"), body.get("description"))
    repo.statuses.append(status)
    return 201, ctx.render.status(repo, status)


def _statuses(ctx: Ctx):
    repo = ctx.repo()
    commit = repo.resolve(ctx.params["ref"])
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ctx.params['ref']}")
    return repo, commit, sorted((s for s in repo.statuses if s.sha == commit.sha), key=lambda s: -s.id)


def statuses_for_ref(ctx: Ctx):
    repo, _, statuses = _statuses(ctx)
    page, headers = ctx.paginate(statuses)
    return 200, [ctx.render.status(repo, s) for s in page], headers


def combined_status(ctx: Ctx):
    repo, commit, statuses = _statuses(ctx)
    latest: dict[str, Status] = {}
    for s in statuses:  # newest first: the first per context wins, as GitHub combines them
        latest.setdefault(s.context, s)
    states = {s.state for s in latest.values()}
    state = ("failure" if states & {"error", "failure"} else "pending" if "pending" in states or not states
             else "success")
    api = f"{ctx.base}/repos/{repo.full_name}"
    simple = [{k: v for k, v in ctx.render.status(repo, s).items() if k != "creator"} for s in latest.values()]
    minimal = {k: v for k, v in ctx.render.repo(repo).items() if k != "permissions"}
    return 200, {"state": state, "statuses": simple, "sha": commit.sha, "total_count": len(simple),
                 "repository": minimal, "commit_url": f"{api}/commits/{commit.sha}",
                 "url": f"{api}/commits/{commit.sha}/status"}


ROUTES = [
    Route("GET", R + "/commits/{ref}/check-runs", "listCheckRunsForRef", check_runs_for_ref,
          R + "/commits/{ref:path}/check-runs"),
    Route("GET", R + "/commits/{ref}/statuses", "listCommitStatusesForRef", statuses_for_ref,
          R + "/commits/{ref:path}/statuses"),
    Route("GET", R + "/commits/{ref}/status", "getCombinedStatusForRef", combined_status,
          R + "/commits/{ref:path}/status"),
    Route("POST", R + "/check-runs", "createCheckRun", check_run_create),
    Route("POST", R + "/statuses/{sha}", "createCommitStatus", status_create),
]
