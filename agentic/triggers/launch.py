"""Accepted triggers become flow runs of the deployment, one per issue text (Prefect's idempotency key).

The key is the issue and a hash of its text, not the delivery: a redelivery (same payload), the same label added
twice or a `/jules` on an unchanged issue all map to the run that already exists, even after the receiver
restarted — the key lives in Prefect's database, where the server enforces it. An edited issue is new text, so
`/jules` after an edit starts a fresh run. An edit that re-triages a needs-info issue is keyed by its time too and
starts `TRIGGERS_EDIT_SETTLE_SECONDS` later; the newest edit's run cancels the ones still pending (one triage per
burst of edits, not one per keystroke-sized fix).
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agentic import observability
from agentic.errors import DeploymentNotFound, PrefectUnavailable
from agentic.triggers.rules import Trigger


def idempotency_key(api_url: str, owner: str, repo: str, number: int, title: str, body: str) -> str:
    """`<api url>/<owner>/<repo>#<n>@<sha256(title, body)[:16]>`; the API URL tells GitHub hosts apart."""
    digest = hashlib.sha256(f"{title}\0{body}".encode()).hexdigest()[:16]
    return f"{api_url.rstrip('/')}/{owner.lower()}/{repo.lower()}#{number}@{digest}"


def issue_tag(trigger: Trigger) -> str:
    return f"issue:{trigger.full_name.lower()}#{trigger.number}"


def run_tags(trigger: Trigger) -> list[str]:
    return ["github", f"trigger:{trigger.event}", f"repo:{trigger.full_name.lower()}", issue_tag(trigger)]


def run_parameters(trigger: Trigger) -> dict[str, Any]:
    # Only the flow's own parameters, no secrets: the run reads its keys from settings where it runs.
    parameters: dict[str, Any] = {"github_issue_url": trigger.issue_url, "requested_by": trigger.sender}
    if trigger.kind == "go":
        parameters["go"] = True
    return parameters


@dataclass(frozen=True)
class Launched:
    flow_run_id: str
    flow_run_name: str
    created: bool  # False: the key matched an existing run, nothing new was started


async def launch(client: Any, deployment: str, trigger: Trigger, key: str, *, start_in: float = 0) -> Launched:
    """Create (or find, by `key`) the flow run of `deployment` ("flow/deployment") for `trigger`, due in
    `start_in` seconds (the server holds it as Scheduled until then: no process, visible in the UI)."""
    with observability.span("create flow run", **{"issue.url": trigger.issue_url, "prefect.deployment": deployment}):
        return await launch_deployment(client, deployment, parameters=run_parameters(trigger), tags=run_tags(trigger),
                                       key=key, start_in=start_in)


async def supersede_pending(client: Any, trigger: Trigger, newest: Launched) -> list[str]:
    """Cancel this issue's runs for the same kind of event that are still waiting to start and are due before
    `newest`; their ids. Only earlier-due runs: two edits delivered at once cannot cancel each other, the last one
    wins; a redelivery of an older edit cancels nothing newer."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    pending = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
        tags=FlowRunFilterTags(all_=[f"trigger:{trigger.event}", issue_tag(trigger)]),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))))
    due = next((r for r in pending if str(r.id) == newest.flow_run_id), None) or \
        await client.read_flow_run(newest.flow_run_id)
    cancelled = []
    for run in pending:
        if str(run.id) != newest.flow_run_id and run.expected_start_time and due.expected_start_time \
                and run.expected_start_time < due.expected_start_time:
            await client.set_flow_run_state(run.id, Cancelled(
                message=f"superseded by a newer {trigger.event} (run {newest.flow_run_name})"))
            cancelled.append(str(run.id))
    return cancelled


_launching: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()  # key -> its launch


async def launch_deployment(client: Any, deployment: str, *, parameters: dict[str, Any], tags: list[str],
                            key: str, start_in: float = 0) -> Launched:
    """Create (or find, by `key`) a flow run of `deployment` ("flow/deployment") with `parameters`.

    `client` is a PrefectClient. The request is the one `create_flow_run_from_deployment` sends; it is sent
    through `client.request` because only the status says whether the key matched an existing run (200) or a run
    was created (201)."""
    import httpx
    from prefect.client.schemas.actions import DeploymentFlowRunCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Scheduled, to_state_create

    try:
        found = await client.read_deployment_by_name(deployment)
    except ObjectNotFound:
        raise DeploymentNotFound(f"deployment {deployment} is not registered in Prefect "
                                 "(run `ibt deploy` or `python agentic/deployment/deploy.py --deploy-only`)") from None
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectUnavailable(f"Prefect: {type(exc).__name__}: {exc}") from None
    # The run's span continues this trace (docs/going-live.md#observability): no label when nothing is traced.
    labels = observability.trace_labels()
    extra = {"labels": labels} if labels else {}
    when = {"scheduled_time": datetime.now(UTC) + timedelta(seconds=start_in)} if start_in else {}
    body = DeploymentFlowRunCreate(parameters=parameters, state=to_state_create(Scheduled(**when)), tags=tags,
                                   idempotency_key=key, **extra)
    # Prefect tells a created run (201) from a found one (200) by the run's creation time against the request's
    # start, so two requests with one key in flight together both hear 201 (two deliveries of one review did). One
    # at a time per key in this process: the second is answered "duplicate". Either way only one run exists.
    lock = _launching.setdefault(key, asyncio.Lock())
    async with lock:
        return await _create(client, found.id, body)


async def _create(client: Any, deployment_id: Any, body: Any) -> Launched:
    import httpx
    from prefect.client.schemas.objects import FlowRun

    try:
        response = await client.request("POST", "/deployments/{id}/create_flow_run", path_params={"id": deployment_id},
                                        json=body.model_dump(mode="json", exclude_unset=True))
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        detail = exc.response.text[:300]
        if status >= 500:
            raise PrefectUnavailable(f"Prefect answered {status}: {detail}") from None
        raise  # 4xx: our request is wrong (e.g. parameters the deployment rejects): a bug, not a redelivery
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectUnavailable(f"Prefect: {type(exc).__name__}: {exc}") from None
    run = FlowRun.model_validate(response.json())
    return Launched(flow_run_id=str(run.id), flow_run_name=run.name, created=response.status_code == 201)
