"""The metered model endpoint: an OpenAI-compatible chat-completions server on 127.0.0.1 that an agent which is not
DSPy's points its client at, so its LM calls are made and measured as every arm's are.

Started with an invocation that runs such an agent, stopped at its end (on Ctrl-C and on failure too). Each run gets
a token of its own (the agent's `api_key`): its requests go to the invocation's model through lm.metered (model
settings, retries, --tpm pacing, a request timeout no later than the run's budget) and land in that run's call log.
After the run's budget, or once the run has ended, its token is refused with a clear error. The provider's key never
reaches the agent, and nothing is logged that holds it. `stream: true` is answered as server-sent events, from the
complete reply of the upstream.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rlmbench.lm.gated import RunCancelled, RunHooks, TokenPacer
from rlmbench.lm.metered import Upstream, metered_completion


@dataclass
class _Run:
    control: RunHooks
    upstream: Upstream
    model: str
    pacer: TokenPacer | None
    retries: int
    served: int = 0
    """Requests this endpoint answered or failed for the run."""
    closed: bool = False


class EndpointError(Exception):
    """The endpoint could not start (no port on 127.0.0.1)."""


class MeteredEndpoint:
    """One invocation's endpoint; `open_run` gives a run its token, `close_run` ends it."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        except OSError as exc:
            raise EndpointError(f"cannot listen on 127.0.0.1: {exc.strerror or exc}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metered-endpoint", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def open_run(self, control: RunHooks, lm: Any, model: str) -> str:
        """A token for one run's requests to `lm`'s model (its upstream, pacer and retries)."""
        token = "rlmbench-run-" + secrets.token_urlsafe(18)
        with self._lock:
            self._runs[token] = _Run(control, lm.upstream, model, getattr(lm, "pacer", None),
                                     getattr(lm, "retries", 0))
        return token

    def close_run(self, token: str) -> int:
        """The run ended: its token is refused from now on. Returns the requests served for it."""
        with self._lock:
            run = self._runs.get(token)
            if run is None:
                return 0
            run.closed = True
            return run.served

    def run_of(self, token: str) -> _Run | None:
        with self._lock:
            return self._runs.get(token)

    def count(self, run: _Run) -> None:
        with self._lock:
            run.served += 1

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "MeteredEndpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and OpenAI error type an upstream failure reaches the agent as."""
    names = {c.__name__ for c in type(exc).__mro__}
    if isinstance(exc, RunCancelled):
        return 408, "run_budget_exceeded"
    if names & {"ContextWindowExceededError", "ContextLengthError"}:
        return 400, "context_length_exceeded"
    if names & {"RateLimitError", "LMRateLimitError"}:
        return 429, "rate_limit_exceeded"
    if names & {"Timeout", "APITimeoutError", "LMTimeoutError", "TimeoutError"}:
        return 504, "timeout"
    return 502, "upstream_error"


def _handler(endpoint: MeteredEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # requests are in the run's call log; nothing else is printed
            return

        def setup(self) -> None:
            super().setup()
            # Headers and body leave as two small writes on a kept-alive connection: with Nagle's algorithm the
            # second waits for the client's delayed ACK, about 40 ms a call (measured: 49 ms a call, 1 ms without).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": kind}})

        def _run(self) -> _Run | None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            run = endpoint.run_of(token)
            if run is None:
                self._error(401, "invalid_api_key", "unknown key: use the api_key the benchmark gave this run")
            elif run.closed:
                self._error(408, "run_ended", "this run has ended (its answer is in, or its --timeout budget ran "
                                              "out); the benchmark answers no more requests for it")
                return None
            return run

        def do_GET(self) -> None:  # noqa: N802  (the SDK's model listing)
            run = self._run()
            if run is not None:
                self._send(200, {"object": "list", "data": [{"id": run.model, "object": "model"}]})

        def do_POST(self) -> None:  # noqa: N802
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            except ValueError:
                self._error(400, "invalid_request", "the request body is not JSON")
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._error(404, "not_found", "this endpoint serves POST /v1/chat/completions")
                return
            run = self._run()
            if run is None:
                return
            endpoint.count(run)
            try:
                response = metered_completion(run.upstream, body, run.control, run.pacer, run.retries)
            except Exception as exc:
                status, kind = _status_of(exc)
                self._error(status, kind, f"{type(exc).__name__}: {str(exc)[:500]}")
                return
            response = {**response, "model": run.model}
            if body.get("stream"):
                self._stream(response)
            else:
                self._send(200, response)

        def _stream(self, response: dict) -> None:
            """The reply as chat.completion.chunk events: the whole message in one delta, then its finish."""
            choice = response["choices"][0]
            message = choice.get("message") or {}
            delta: dict = {"role": "assistant", "content": message.get("content")}
            if message.get("tool_calls"):
                delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
            base = {"id": response.get("id"), "object": "chat.completion.chunk", "created": response.get("created"),
                    "model": response.get("model")}
            events = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                      {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason")}],
                       "usage": response.get("usage")}]
            body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
