"""The shell around `agentic.jules.follow`: poll Jules adaptively, perform the machine's actions, re-read.

Everything this loop knows comes from the session and its activity stream (replayed from the start on every
entry), so a retried, resumed or taken-over run continues where the last one stopped. The only clocks are here:
the session timeout (not counting time spent waiting on people) and the stuck detector.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection
from dataclasses import dataclass

from prefect.artifacts import acreate_markdown_artifact

from agentic.agent.brief import render_reply
from agentic.dispatch import claims
from agentic.jules.follow import AskApproval, AskReply, Finished, FollowView, Note, PlanShown, Show
from agentic.jules.models import Session
from agentic.lifecycle import Phase, PlanDecided, Polled
from agentic.workflows import tasks
from agentic.workflows.followups import FollowUps, from_a_person
from agentic.workflows.plan_approval import after, can_suspend, parse_time, wait_plan_decision, wait_ran_out, wait_reply
from agentic.workflows.polling import AdaptivePoller
from agentic.workflows.run import Ended, IssueRun
from agentic.workflows.status_comment import status_marker

# A loop iteration (a few API calls) that takes longer than this went through retries.
OUTAGE_SECONDS = 5.0


def _mirror(run: IssueRun, view: FollowView, relayed: Collection[str] = ()) -> None:
    """Copy what a reader should see from the machine's view to the status comment's."""
    run.report.view.plan = [step.title for step in view.plan.steps] if view.plan else []
    question = view.question if view.question and view.question.activity_id not in relayed else None
    run.report.view.question = question.text if question else None
    run.report.view.latest = view.latest


async def _publish_plan(run: IssueRun, action: PlanShown) -> None:
    steps = action.plan.steps
    markdown = "\n".join(f"{i}. **{st.title}** — {st.description}" for i, st in enumerate(steps, 1))
    await acreate_markdown_artifact(markdown, key="jules-plan", description=f"Jules plan for {run.job.ref}")


async def _decide_plan(run: IssueRun, view: FollowView, action: AskApproval) -> None:
    plan_id = action.plan.id
    await run.report.show()
    decision = await wait_plan_decision(run, plan_id, action.plan_at)
    run.report.step(PlanDecided(plan_id))  # the next activities confirm it (planApproved / userMessaged)
    if decision.approve:
        done = await tasks.approve_plan(run.deps.jules, view.session_id, plan_id)
        run.report.event("plan-approved" if done else "plan-already-approved", plan_id)
    else:
        text = f"Please revise the plan: {decision.revision}"
        sent = await tasks.send_message(run.deps.jules, view.session_id, text, action.plan_at)
        run.report.event("plan-revision-sent" if sent else "plan-revision-already-sent", decision.revision)


async def _relay_answer(run: IssueRun, view: FollowView, action: AskReply) -> bool:
    """Send the reporter's (or a maintainer's) first reply after Jules' question back to Jules, quoted as data."""
    asked = parse_time(action.question.asked_at)
    marker = status_marker(run.job.ref.key)
    for comment in await run.deps.github.list_comments(run.job.ref, since=asked):
        if not after(comment, asked) or not from_a_person(comment, run.book.claim.bot_login, marker):
            continue
        if comment.author == run.job.issue.author or \
                await run.deps.github.can_write(run.job.ref, comment.author):
            # Fenced as data; the nonce is derived from the comment so a re-sent reply is recognised as sent.
            nonce = hashlib.sha256(f"{view.session_id}:{comment.id}".encode()).hexdigest()[:16]
            reply = render_reply(comment.body, nonce=nonce)
            sent = await tasks.send_message(run.deps.jules, view.session_id, reply, action.question.asked_at)
            run.report.event("answer-sent" if sent else "answer-already-sent",
                             f"@{comment.author}: {comment.body[:80]}")
            return True
    return False


async def _suspend_for_reply(run: IssueRun, view: FollowView, action: AskReply) -> bool:
    """No reply yet: a deployment run suspends (no process held) until a reply resumes it. True when the UI form
    carried the answer (sent here); False when a comment resumed it (the next pass relays that comment)."""
    if not can_suspend(run):
        return False
    if wait_ran_out(run, parse_time(action.question.asked_at)):
        raise Ended(Phase.TIMED_OUT, "no reply to Jules' question within "
                                     f"{run.deps.settings.plan_approval_timeout_seconds:.0f}s")
    comments = await run.deps.github.list_comments(run.job.ref, since=parse_time(action.question.asked_at))
    reply = await wait_reply(run, action.question.activity_id, max((c.id for c in comments), default=None))
    if not reply.answer.strip():
        return False
    nonce = hashlib.sha256(f"{view.session_id}:form:{reply.answer}".encode()).hexdigest()[:16]
    sent = await tasks.send_message(run.deps.jules, view.session_id, render_reply(reply.answer, nonce=nonce),
                                    action.question.asked_at)
    run.report.event("answer-sent" if sent else "answer-already-sent", f"(Prefect UI): {reply.answer[:80]}")
    return True


async def follow(run: IssueRun, session: Session, record: claims.SessionRecord) -> Finished:
    """Follow the session until it ends; react to plans and questions; return how it ended."""
    s = run.deps.settings
    view = FollowView(session_id=session.id)  # until the first poll: nothing seen, read from the start
    poller = AdaptivePoller(s.poll_min_seconds, s.poll_max_seconds)
    clocks = _Clocks(followed_since=run.deps.clock())
    polls, need_state = 0, True
    relayed: set[str] = set()  # questions answered by this run (Jules' userMessaged may lag behind the send)
    followups = FollowUps(since=parse_time(session.create_time) or record.claimed_at)
    while True:
        iteration_started = run.deps.clock()
        activities = await tasks.poll_activities(run.deps.jules, session.id, view.cursor)
        fresh = [a for a in activities if a.id not in view.seen]
        # The state may change without an activity: re-read it after every action, when something arrived,
        # while people are awaited, and every fifth quiet poll.
        if need_state or fresh or view.waiting_on_people or polls % 5 == 4:
            session = await tasks.get_session(run.deps.jules, session.id)
        actions = run.report.step(Polled(session, fresh))
        view = run.report.state.follow or view
        poller.saw_activity() if fresh else poller.saw_nothing()
        polls += 1
        record.state = view.state
        if finished := await _report(run, view, actions, relayed):
            return finished
        need_state = polls % 5 == 4 and not view.waiting_on_people and bool(await followups.forward(run, session.id))
        paused, answered = await _answer_people(run, view, actions, relayed)
        if need_state or answered:  # a follow-up or an answer went to Jules: it works again
            need_state = True
            poller.reset()
        clocks.check(run, poller, view, iteration_started, paused)
        await asyncio.sleep(poller.interval)


async def _report(run: IssueRun, view: FollowView, actions: list, relayed: set[str]) -> Finished | None:
    """The machine's notes, plans and view onto the timeline and the status comment; its end, if it ended."""
    for action in actions:
        if isinstance(action, Note):
            run.report.event(action.event, action.detail)
        elif isinstance(action, PlanShown):
            await _publish_plan(run, action)
    _mirror(run, view, relayed)
    if finished := next((a for a in actions if isinstance(a, Finished)), None):
        return finished
    if any(isinstance(a, Show) for a in actions):
        await run.report.show()
    return None


async def _answer_people(run: IssueRun, view: FollowView, actions: list, relayed: set[str]) -> tuple[float, bool]:
    """Plans to decide and questions to relay: (seconds spent waiting on people, whether Jules got an answer)."""
    paused, answered = 0.0, False
    for action in actions:
        if isinstance(action, AskApproval):
            paused_at = run.deps.clock()
            await _decide_plan(run, view, action)
            paused += run.deps.clock() - paused_at
            answered = True
        elif (isinstance(action, AskReply) and action.question.activity_id not in relayed
              and (await _relay_answer(run, view, action) or await _suspend_for_reply(run, view, action))):
            relayed.add(action.question.activity_id)
            run.report.view.question = None
            await run.report.show()
            answered = True
    return paused, answered


@dataclass
class _Clocks:
    """The follow's limits: the session timeout (not counting time spent waiting on people, nor our own outages)
    and the stuck detector."""

    followed_since: float
    waited_on_people: float = 0.0

    def check(self, run: IssueRun, poller: AdaptivePoller, view: FollowView, iteration_started: float,
              paused: float) -> None:
        s = run.deps.settings
        self.waited_on_people += paused
        # An iteration is a few API calls; one that took long went through retries (Prefect, PostgreSQL or the
        # hub down): that time is ours, not Jules going silent, and not the session's.
        if (outage := run.deps.clock() - iteration_started - paused) > OUTAGE_SECONDS:
            poller.not_listening(outage)
            self.followed_since += outage
        if view.waiting_on_people:
            self.waited_on_people += poller.interval
        elapsed = run.deps.clock() - self.followed_since - self.waited_on_people
        if elapsed > s.session_timeout_seconds:
            raise Ended(Phase.TIMED_OUT, f"no result after {elapsed:.0f}s (limit {s.session_timeout_seconds:.0f}s)")
        if not view.waiting_on_people and poller.quiet_for > s.stuck_after_seconds:
            raise Ended(Phase.STUCK, f"no activity from Jules for {s.stuck_after_seconds:.0f}s in state {view.state}")
