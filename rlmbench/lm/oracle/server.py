"""The oracle behind a real OpenAI-compatible chat-completions endpoint on 127.0.0.1, with faults on demand.

The tests and the benchmarks in `benchmarks/` use it where a hosted or local model server cannot be
reached: requests
arrive over real HTTP through LiteLLM/DSPy, and answers come from the oracle's policy, so a
whole benchmark can run against it. `behaviour` lets a test change what one request gets
(for example a reply with no code), and every request body is kept for assertions.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from rlmbench.lm.adapter_text import message_text
from rlmbench.lm.oracle.chat import chat_reply
from rlmbench.lm.oracle.request import output_fields
from rlmbench.lm.oracle.roles import respond
from rlmbench.lm.tokens import count_tokens
from rlmbench.tasks.task import TaskSchema
from rlmbench.tasks.task_file import load_task

Behaviour = Callable[[dict, str, str], "str | dict | None"]
"""behaviour(body, system, user) -> reply text, or {"content": text, "finish_reason": reason}, or None
for the oracle's answer."""

Faults = Callable[[int, dict, str, str], "str | None"]
"""faults(request_number, body, system, user) -> one of FAULTS for that request, or None to answer normally.

request_number counts chat-completion requests from 1, retries included, so a test can fail
"every other request" or "the first two"."""

FAULTS = (
    "rate_limited",          # 429 with Retry-After: 1
    "rate_limited_bare",     # 429 without Retry-After
    "server_error",          # 500
    "hang",                  # accept the request, never answer (until the server shuts down)
    "malformed_json",        # 200 whose body is not JSON
    "empty_content",         # 200 with an empty message
    "bad_format",            # 200 with prose that fits no adapter format
    "unauthorized",          # 401: the key was refused
)


HANGING_RLM_REPLY = ("[[ ## reasoning ## ]]\nLoop.\n\n[[ ## code ## ]]\n```python\nwhile True:\n    pass\n```\n\n"
                     "[[ ## completed ## ]]")
"""An RLM action whose cell never returns: for the tests of time budgets and hung sandboxes."""


def every_other(fault: str) -> Faults:
    """Fail every second request with `fault`: with retries, every run should still finish."""
    return lambda n, body, system, user: fault if n % 2 == 0 else None


def always(fault: str) -> Faults:
    return lambda n, body, system, user: fault


def _content(message: dict) -> str:
    return message_text(message.get("content"))


Generation = Callable[[int, dict], float]
"""generation(request_number, body) -> seconds the request takes to generate, whether or not its client waits."""


@dataclass
class Served:
    """One chat request as the server handled it (times are time.monotonic())."""

    number: int
    arrived: float
    ended: float | None = None
    """When its generation ended (and the reply was sent, if the client was still there)."""
    client_left: bool = False
    """The client had closed the connection before the reply was ready."""
    max_tokens: int | None = None


class OpenAICompatibleServer:
    """`schema`: the task whose roles the oracle's policy plays (default: the built-in drugs task).

    `generation` and `single_slot` make it behave like llama.cpp's server: a request takes that long
    whether or not its client is still waiting, and with one slot the next request waits for it."""

    def __init__(self, behaviour: Behaviour | None = None, faults: Faults | None = None,
                 schema: TaskSchema | None = None, generation: Generation | None = None,
                 single_slot: bool = False) -> None:
        self.schema = schema or load_task("drugs").schema
        self.behaviour = behaviour
        self.faults = faults
        self.generation = generation
        self.requests: list[dict] = []
        self.served: list[Served] = []
        self.served_at: list[tuple[float, float]] = []  # (start, end) of each answered request, time.monotonic()
        self.faults_served: list[str] = []
        self._lock = threading.Lock()
        self._slot = threading.Lock() if single_slot else contextlib.nullcontext()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "oracle", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                began = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    number = len(server.requests)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                served = Served(number, began, max_tokens=body.get("max_tokens"))
                with server._lock:
                    server.served.append(served)
                with server._slot:
                    if server.generation is not None:
                        time.sleep(server.generation(number, body))  # generating, client or no client
                    self._answer(body, number, began, served)

            def _client_left(self) -> bool:
                """The client closed its end: the socket reads as ended."""
                try:
                    readable, _, _ = select.select([self.connection], [], [], 0)
                    return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def _answer(self, body: dict, number: int, began: float, served: Served) -> None:
                messages = body.get("messages", [])
                system = "\n".join(_content(m) for m in messages if m.get("role") in ("system", "developer"))
                user = next((_content(m) for m in reversed(messages) if m.get("role") == "user"), "")
                fault = server.faults(number, body, system, user) if server.faults else None
                if fault:
                    with server._lock:
                        server.faults_served.append(fault)
                    if self._serve_fault(fault):
                        return
                    reply = "" if fault == "empty_content" else "I have looked at the medications and all seems fine."
                else:
                    reply = server.behaviour(body, system, user) if server.behaviour else None
                if reply is None and (body.get("tools") or (system and not output_fields(system))):  # not DSPy's
                    with server._lock:
                        server.served_at.append((began, time.monotonic()))
                        served.ended, served.client_left = time.monotonic(), self._client_left()
                    if not served.client_left:
                        self._send(200, chat_reply(server.schema, body))
                    return
                finish_reason = "stop"
                if isinstance(reply, dict):
                    reply, finish_reason = reply["content"], reply["finish_reason"]
                if reply is None and not system:  # not a DSPy request: the benchmark's idle check, say
                    reply = "ok"  # a real server allowed one token stops for that reason, whatever it said
                    finish_reason = "length" if body.get("max_tokens") == 1 else finish_reason
                if reply is None:
                    conversation = "\n\n".join(_content(m) for m in messages
                                                 if m.get("role") not in ("system", "developer"))
                    reply = respond(server.schema, system, user, conversation)
                prompt_tokens = sum(count_tokens(_content(m)) for m in messages)
                with server._lock:
                    server.served_at.append((began, time.monotonic()))
                    served.ended, served.client_left = time.monotonic(), self._client_left()
                if served.client_left:
                    return
                self._send(200, {
                    "id": f"chatcmpl-test-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "oracle"),
                    "choices": [{"index": 0, "finish_reason": finish_reason,
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": count_tokens(reply),
                              "total_tokens": prompt_tokens + count_tokens(reply)},
                })

            def _serve_fault(self, fault: str) -> bool:
                """Send a transport-level fault; False for faults that are a normal 200 with a bad message."""
                if fault == "rate_limited":
                    self._send(429, {"error": {"message": "Rate limit reached: tokens per minute", "type": "tokens",
                                               "code": "rate_limit_exceeded"}}, {"Retry-After": "1"})
                elif fault == "rate_limited_bare":
                    self._send(429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}})
                elif fault == "unauthorized":
                    self._send(401, {"error": {"message": "Invalid API Key", "type": "invalid_request_error",
                                               "code": "invalid_api_key"}})
                elif fault == "context_length":  # as OpenAI-compatible providers refuse a prompt over the window
                    self._send(400, {"error": {"message": "This model's maximum context length is 8192 tokens. "
                                                          "However, your messages resulted in 9000 tokens.",
                                               "type": "invalid_request_error", "param": "messages",
                                               "code": "context_length_exceeded"}})
                elif fault == "server_error":
                    self._send(500, {"error": {"message": "internal server error", "type": "server_error"}})
                elif fault == "hang":
                    server._closing.wait()
                elif fault == "malformed_json":
                    self._send(200, None, raw=b'{"id": "chatcmpl-broken", "choices": [{"message": {"content": "unterminated')
                else:
                    return False
                return True

            def _send(self, status: int, payload: dict | None, headers: dict | None = None, raw: bytes = b"") -> None:
                data = raw or json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "OpenAICompatibleServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()  # releases hung requests
        self._server.shutdown()
        self._server.server_close()
