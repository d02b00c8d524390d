"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the tests.

It stands in for a hosted or local model server, which the tests cannot reach: requests
arrive over real HTTP through LiteLLM/DSPy, and answers come from the oracle's policy, so a
whole benchmark can run against it. `behaviour` lets a test change what one request gets
(for example a reply with no code), and every request body is kept for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from rlmbench.oracle import count_tokens, respond

Behaviour = Callable[[dict, str, str], "str | None"]
"""behaviour(body, system, user) -> reply text, or None for the oracle's answer."""


def _content(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


class OpenAICompatibleServer:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour
        self.requests: list[dict] = []
        self._lock = threading.Lock()
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
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                messages = body.get("messages", [])
                system = "\n".join(_content(m) for m in messages if m.get("role") in ("system", "developer"))
                user = next((_content(m) for m in reversed(messages) if m.get("role") == "user"), "")
                reply = server.behaviour(body, system, user) if server.behaviour else None
                if reply is None:
                    reply = respond(system, user)
                prompt_tokens = sum(count_tokens(_content(m)) for m in messages)
                self._send(200, {
                    "id": f"chatcmpl-test-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "oracle"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": count_tokens(reply),
                              "total_tokens": prompt_tokens + count_tokens(reply)},
                })

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
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
        self._server.shutdown()
        self._server.server_close()
