"""A run whose process died is continued by a new run: the flow is a reentrant function of durable state, so the
successor reads the claim, the Jules session and the issue's comments and goes on from there (nothing is repeated).

Two automations beside each deployment:
- `crashed_run_trigger`: a run of the deployment reported Crashed (its process was stopped: a worker or container
  restarted, SIGTERM) → the deployment again for the same issue, `crash_recoveries` one higher; the flow stops the
  chain after MAX_CRASH_RECOVERIES with the reason on the status comment, so a run that crashes every time ends.
- `ensure_zombie_automation`: a run that stops sending heartbeats (killed with SIGKILL, its machine gone) for
  ZOMBIE_AFTER_SECONDS is marked Crashed, which the trigger above then continues (Prefect's documented zombie
  detection; runs send heartbeats every PREFECT_RUNNER_HEARTBEAT_FREQUENCY seconds when it is set).
"""

from __future__ import annotations

from datetime import timedelta

from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

MAX_CRASH_RECOVERIES = 3
ZOMBIE_AFTER_SECONDS = 90
ZOMBIE_AUTOMATION = "jules: mark runs without heartbeats crashed"
# A run that is not running sends no heartbeats: these end the watch on it.
_NOT_RUNNING = {"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed", "prefect.flow-run.Paused", "prefect.flow-run.Suspended",
                "prefect.flow-run.Cancelling"}


def crashed_run_trigger(flow_name: str, deployment_name: str) -> DeploymentEventTrigger:
    """The deployment's automation: one of its runs crashed → one new run for the same issue."""
    return DeploymentEventTrigger(
        name="a run's process died",
        description="Continues the issue in a new run: claim, session and comments are read again, nothing repeated.",
        expect={"prefect.flow-run.Crashed"},
        match_related=[{"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
                       {"prefect.resource.role": "deployment", "prefect.resource.name": deployment_name}],
        parameters={"github_issue_url": "{{ flow_run.parameters.github_issue_url }}",
                    # A number, not the string a template renders: the deployment's parameter schema is enforced.
                    "crash_recoveries": {"__prefect_kind": "json", "value": {
                        "__prefect_kind": "jinja",
                        "template": "{{ (flow_run.parameters.crash_recoveries or 0) + 1 }}"}}})


async def ensure_zombie_automation() -> str:
    """Create or update (by name) the automation that marks silent runs Crashed; idempotent, one per server."""
    from prefect.automations import Automation, ChangeFlowRunState, EventTrigger, Posture
    from prefect.client.schemas.objects import StateType

    automation = Automation(
        name=ZOMBIE_AUTOMATION,
        description=f"A flow run with no heartbeat for {ZOMBIE_AFTER_SECONDS} s is marked Crashed (its process is "
                    "gone); the deployment's crash trigger then continues the issue in a new run.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *_NOT_RUNNING},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_SECONDS),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"No heartbeat for {ZOMBIE_AFTER_SECONDS} s: the run's process is gone")],
    )
    try:
        existing = await Automation.aread(name=ZOMBIE_AUTOMATION)
    except ValueError:
        existing = None
    if existing is None:
        return str((await automation.acreate()).id)
    automation.id = existing.id
    await automation.aupdate()
    return str(existing.id)


async def owner_is_gone(run_id: str | None) -> bool:
    """Prefect reports the claim's owner run as ended (or knows no such run): its claim protects nothing."""
    if not run_id:
        return True
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            run = await client.read_flow_run(UUID(run_id))
        except ObjectNotFound:
            return True
    return run.state is not None and run.state.is_final()
