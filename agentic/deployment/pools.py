"""What `deploy.py` does for the queue and for workers: Jules' quotas as Prefect limits, and a work-pool deployment.

Kept apart from deploy.py's flags and messages: both functions are also called by the tests and the benchmark.
"""

from __future__ import annotations

import asyncio
import os

from agentic.dispatch.session_queue import QuotaPlan
from agentic.dispatch.session_queue import apply_quotas as upsert_limits
from agentic.errors import AgenticError

DEPLOYMENT_NAME = "jules-agent-deployment"
DEPLOYMENT_TAGS = ["jules", "github"]


class DeployError(AgenticError):
    """Prefect refused or could not be reached while setting up the queue or the pool."""


async def aapply_quotas(plan: QuotaPlan) -> str:
    """Create or update (idempotent) the limits of `plan` in the Prefect this process talks to; what was set."""
    from prefect.client.orchestration import get_client

    try:
        async with get_client() as client:
            await upsert_limits(client, plan)
    except Exception as exc:  # noqa: BLE001 - Prefect refused or vanished: one line
        raise DeployError(f"could not set the Jules quota limits in Prefect: {type(exc).__name__}: "
                          f"{str(exc)[:300]}") from None
    return plan.describe()


# What a flow run's container runs when the pool is a Docker pool (prefect-docker): the product's image, which holds
# the package the module-path entrypoint imports. IBT_WORKER_IMAGE names another (a registry copy of it).
DOCKER_POOL_IMAGE = "ibt-app:local"


def job_variables(pool_type: str) -> dict[str, object]:
    """The deployment's job variables for a pool of this type: a Docker pool gets the product's image, used when the
    engine has it and pulled otherwise; other types keep the pool's defaults."""
    if pool_type != "docker":
        return {}
    return {"image": os.environ.get("IBT_WORKER_IMAGE") or DOCKER_POOL_IMAGE, "image_pull_policy": "IfNotPresent"}


async def adeploy_to_pool(pool: str, plan: QuotaPlan, name: str = DEPLOYMENT_NAME,
                          archive_interval: float = 0) -> tuple[str, str]:
    """Create the process work pool if missing and register the deployment in it, and the archive sweep beside it
    (every `archive_interval` seconds; 0: no schedule); (deployment id, pool state).

    The entrypoint is the module path, not a file: a worker imports the installed `agentic` package, so any machine
    with the package installed (and its agentic/.env) can run the flow; nothing is pulled from storage."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import EntrypointType
    from prefect.exceptions import ObjectAlreadyExists

    from agentic import __version__
    from agentic.workflows import archive
    from agentic.workflows.jules_workflow import FLOW_NAME, jules_agent_workflow
    from agentic.workflows.plan_approval import expired_wait_trigger
    from agentic.workflows.recovery import crashed_run_trigger

    try:
        async with get_client() as client:
            try:
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
                state, pool_type = "created", "process"
            except ObjectAlreadyExists:
                pool_type = (await client.read_work_pool(pool)).type
                state = f"exists (type {pool_type})"
        deployment = await jules_agent_workflow.ato_deployment(
            name=name, tags=DEPLOYMENT_TAGS, version=__version__, work_pool_name=pool,
            job_variables=job_variables(pool_type),
            entrypoint_type=EntrypointType.MODULE_PATH, concurrency_limit=plan.deployment_concurrency(),
            triggers=[expired_wait_trigger(FLOW_NAME, name), crashed_run_trigger(FLOW_NAME, name)])
        deployment_id = await deployment.aapply(work_pool_name=pool)
        sweep = await archive.archive_merged_sessions.ato_deployment(
            tags=DEPLOYMENT_TAGS, version=__version__, work_pool_name=pool, entrypoint_type=EntrypointType.MODULE_PATH,
            **archive.deployment_options(archive_interval))
        await sweep.aapply(work_pool_name=pool)
    except Exception as exc:  # noqa: BLE001 - a bad pool name, Prefect refusing: one line
        raise DeployError(f"could not deploy to work pool {pool!r}: {type(exc).__name__}: {str(exc)[:300]}") from None
    return str(deployment_id), state


def apply_quotas(plan: QuotaPlan) -> str:
    return asyncio.run(aapply_quotas(plan))


def deploy_to_pool(pool: str, plan: QuotaPlan, name: str = DEPLOYMENT_NAME,
                   archive_interval: float = 0) -> tuple[str, str]:
    return asyncio.run(adeploy_to_pool(pool, plan, name, archive_interval))
