"""A hub call's back-channel: what an upstream sends while it serves a client's call reaches that client.

- progress: the call goes upstream with a progress token of the hub's own (the upstream session's request id) when
  the client's call carried `_meta.progressToken`; each `notifications/progress` comes back under the client's token;
- log messages (`notifications/message`) the upstream sends while the call runs;
- requests the upstream makes of the client during the call (`sampling/createMessage`, `elicitation/create`,
  `roots/list`): sent to the client on the call's stream, its answer (or error) returned upstream, within a timeout.

Which call caused an upstream message: the `Relay` of the client's request is a context variable set around the
forwarded request; the MCP SDK runs the handling of a message that arrived on a request's response stream
(streamable HTTP) in the context of the task that sent that request, so the variable is still set there. Where no
context is carried (stdio, sse, the standalone GET stream) the upstream's only call in flight is taken; with none or
several, log messages are dropped and requests are refused (`Upstream.relay_for`).
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata

log = logging.getLogger("agentic.hub")

DEFAULT_RELAY_TIMEOUT = 300.0   # a person answering an elicitation, a model answering a sampling request
RELAYED_CALLS = frozenset({"tools/call", "prompts/get", "resources/read", "completion/complete"})

CURRENT: contextvars.ContextVar[Relay | None] = contextvars.ContextVar("agentic_hub_relay", default=None)

# The requests an upstream may make of the client: method -> (request model, result model).
_REQUESTS: dict[str, tuple[Any, Any]] = {
    "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult),
    "elicitation/create": (types.ElicitRequest, types.ElicitResult),
    "roots/list": (types.ListRootsRequest, types.ListRootsResult),
}


@dataclass(eq=False, slots=True)
class Relay:
    """One client request being served: the client's session (its request-scoped channel) and progress token."""

    session: Any                       # mcp.server.session.ServerSession of the client's request
    request_id: types.RequestId
    progress_token: types.ProgressToken | None
    streamable: bool = True            # False: the client takes JSON only, so no request can reach it mid-call
    channel: Any = None                # the call's answer (agentic.hub.streams), for a session in JSON mode
    timeout: float = DEFAULT_RELAY_TIMEOUT

    @classmethod
    def of(cls, ctx: Any, streamable: bool = True, channel: Any = None) -> Relay | None:
        """The relay of a low-level server request context (None for a notification)."""
        if ctx.request_id is None:
            return None
        meta = ctx.params.get("_meta") if isinstance(ctx.params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if isinstance(token, bool) or not isinstance(token, str | int):
            token = None
        return cls(ctx.session, ctx.request_id, token, streamable, channel)

    def _own_channel(self) -> bool:
        """The session answers in JSON (no SDK back-channel): notifications go into the answer ourselves."""
        return self.channel is not None and not self.session.can_send_request

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if self.progress_token is None:
            return
        try:
            if self._own_channel():
                params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
                if total is not None:
                    params["total"] = total
                if message is not None:
                    params["message"] = message
                await self.channel.notify({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})
                return
            await self.session.send_progress_notification(self.progress_token, progress, total, message,
                                                          related_request_id=self.request_id)
        except Exception as exc:  # noqa: BLE001 - a client gone mid-call must not fail the upstream's call
            log.debug("hub: progress not relayed: %s", exc)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        try:
            if self._own_channel():
                await self.channel.notify({"jsonrpc": "2.0", "method": "notifications/message",
                                           "params": params.model_dump(by_alias=True, mode="json", exclude_none=True)})
                return
            await self.session.send_log_message(params.level, params.data, logger=params.logger,
                                                related_request_id=self.request_id)
        except Exception as exc:  # noqa: BLE001
            log.debug("hub: log message not relayed: %s", exc)

    async def request(self, method: str, params: Any) -> Any:
        """Ask the client `method` on the call's stream; its result model, or `ErrorData` to answer upstream."""
        kinds = _REQUESTS.get(method)
        if kinds is None:
            return types.ErrorData(code=types.METHOD_NOT_FOUND, message=f"{method} is not relayed by the hub")
        if not client_has(self.session, method):
            return types.ErrorData(code=types.INVALID_REQUEST, message=(
                f"the client did not declare the capability {method} needs"))
        if not self.streamable or not self.session.can_send_request:
            return types.ErrorData(code=types.INVALID_REQUEST, message=(
                f"the client's call has no stream for {method} (it accepts JSON answers only)"))
        request_type, result_type = kinds
        if method == "sampling/createMessage" and (params.tools or params.tool_choice):
            result_type = types.CreateMessageResultWithTools
        request = request_type(params=params) if params is not None else request_type()
        try:
            with anyio.fail_after(self.timeout):
                return await self.session.send_request(
                    request, result_type, metadata=ServerMessageMetadata(related_request_id=self.request_id))
        except MCPError as exc:   # the client's own refusal, as it sent it
            return exc.error
        except TimeoutError:
            return types.ErrorData(code=types.REQUEST_TIMEOUT,
                                   message=f"the client did not answer {method} within {self.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - e.g. a result that is not the model: the upstream hears why
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"relaying {method} failed: {exc}"[:500])


def client_has(session: Any, method: str) -> bool:
    """Whether the client declared the capability `method` needs."""
    capabilities = getattr(session, "client_capabilities", None)
    if capabilities is None:
        return False
    field = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation",
             "roots/list": "roots"}.get(method)
    return field is not None and getattr(capabilities, field, None) is not None
