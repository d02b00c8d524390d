"""What the metered endpoint adds to each LM call of an agent that is not DSPy's, measured on this machine.

    uv run python benchmarks/endpoint_overhead.py [--calls 200]

The same request (the first turn of a native tool-calling agent on `drugs`, answered by the oracle: 35 tool calls)
is made two ways, alternately: straight through lm.metered (the upstream call with its metering, what every arm's
call costs) and over HTTP through the endpoint with the OpenAI SDK, as an agent makes it. The difference is the
endpoint's own time per call: the HTTP round trip on 127.0.0.1, the JSON both ways, the key lookup.
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

from openai import OpenAI

from rlmbench.agents.external import tool_schema
from rlmbench.lm.metered import OracleUpstream, metered_completion
from rlmbench.run.control import RunControl
from rlmbench.run.endpoint import MeteredEndpoint
from rlmbench.tasks.prompt import task_prompt
from rlmbench.tasks.task_file import load_task
from rlmbench.tasks.tools import make_tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    task = load_task("drugs")
    body = {"model": "oracle", "messages": [{"role": "user", "content": task_prompt(task.schema, task.full_case()).text}],
            "tools": [tool_schema(t) for t in make_tools(task)]}
    upstream = OracleUpstream(task.schema)
    lm = SimpleNamespace(upstream=upstream, pacer=None, retries=0)
    direct, through = [], []
    with MeteredEndpoint() as endpoint:
        control = RunControl()
        client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.open_run(control, lm, "oracle"), max_retries=0)
        for i in range(args.calls + 10):  # the first ten warm the tokenizer, the SDK and the connection
            started = time.perf_counter()
            metered_completion(upstream, body, RunControl())
            middle = time.perf_counter()
            client.chat.completions.create(model="oracle", messages=body["messages"], tools=body["tools"])
            ended = time.perf_counter()
            if i >= 10:
                direct.append(middle - started)
                through.append(ended - middle)
    d, t = statistics.median(direct) * 1000, statistics.median(through) * 1000
    print(f"drugs, first turn (35 tool calls), oracle upstream, median of {args.calls}:")
    print(f"  metered call, direct        {d:7.2f} ms")
    print(f"  through the endpoint (SDK)  {t:7.2f} ms")
    print(f"  the endpoint's own time     {t - d:7.2f} ms a call")


if __name__ == "__main__":
    main()
