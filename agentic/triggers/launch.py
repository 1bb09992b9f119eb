"""Accepted triggers become flow runs of the deployment, one per issue text (Prefect's idempotency key).

The key is the issue and a hash of its text, not the delivery: a redelivery (same payload), the same label added
twice or a `/jules` on an unchanged issue all map to the run that already exists, even after the receiver
restarted — the key lives in Prefect's database, where the server enforces it. An edited issue is new text, so
`/jules` after an edit starts a fresh run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from agentic import observability
from agentic.triggers.rules import Trigger


def idempotency_key(api_url: str, owner: str, repo: str, number: int, title: str, body: str) -> str:
    """`<api url>/<owner>/<repo>#<n>@<sha256(title, body)[:16]>`; the API URL tells GitHub hosts apart."""
    digest = hashlib.sha256(f"{title}\0{body}".encode()).hexdigest()[:16]
    return f"{api_url.rstrip('/')}/{owner.lower()}/{repo.lower()}#{number}@{digest}"


def run_tags(trigger: Trigger) -> list[str]:
    return ["github", f"trigger:{trigger.event}", f"repo:{trigger.full_name.lower()}"]


def run_parameters(trigger: Trigger) -> dict[str, Any]:
    # Only the flow's own parameters, no secrets: the run reads its keys from settings where it runs.
    return {"github_issue_url": trigger.issue_url, "requested_by": trigger.sender}


@dataclass(frozen=True)
class Launched:
    flow_run_id: str
    flow_run_name: str
    created: bool  # False: the key matched an existing run, nothing new was started


class DeploymentNotFound(Exception):
    pass


class PrefectUnavailable(Exception):
    pass


async def launch(client: Any, deployment: str, trigger: Trigger, key: str) -> Launched:
    """Create (or find, by `key`) the flow run of `deployment` ("flow/deployment") for `trigger`."""
    with observability.span("create flow run", **{"issue.url": trigger.issue_url, "prefect.deployment": deployment}):
        return await launch_deployment(client, deployment, parameters=run_parameters(trigger), tags=run_tags(trigger),
                                       key=key)


async def launch_deployment(client: Any, deployment: str, *, parameters: dict[str, Any], tags: list[str],
                            key: str) -> Launched:
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
    body = DeploymentFlowRunCreate(parameters=parameters, state=to_state_create(Scheduled()), tags=tags,
                                   idempotency_key=key, **extra)
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
