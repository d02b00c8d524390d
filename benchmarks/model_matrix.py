"""How long a matrix of models takes next to its slowest model alone (not a test).

    uv run python benchmarks/model_matrix.py [--delay-a 0.2] [--delay-b 0.4] [--approaches react]

Two of the tests' own OpenAI-compatible servers on 127.0.0.1 answer with the oracle's policy
after a fixed delay per request. The script runs model A alone, model B alone, then both in one
invocation, through the benchmark's own command line, and prints the wall times and the ratio
matrix / slower-alone: about 1 when models run side by side, about 1 + faster/slower if they
ran one after the other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlmbench.lm.oracle.server import OpenAICompatibleServer


def delayed(seconds: float):
    def behaviour(body, system, user):
        time.sleep(seconds)
        return None
    return behaviour


def timed_run(models_toml: str, approaches: str, cwd: Path) -> float:
    (cwd / "models.toml").write_text(models_toml)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rlmbench", "run", "--models", "models.toml",
                    "--runs", "1", "--approaches", approaches, "--output", "out.json"],
                   cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay-a", type=float, default=0.2)
    parser.add_argument("--delay-b", type=float, default=0.4)
    parser.add_argument("--approaches", default="react")
    args = parser.parse_args()
    with OpenAICompatibleServer(delayed(args.delay_a)) as a, OpenAICompatibleServer(delayed(args.delay_b)) as b, \
            tempfile.TemporaryDirectory() as tmp:
        entry = "[[models]]\nlabel = '{0}'\nmodel = 'openai/{0}'\napi_base = '{1}'\n"
        alone_a = timed_run(entry.format("a", a.url), args.approaches, Path(tmp))
        alone_b = timed_run(entry.format("b", b.url), args.approaches, Path(tmp))
        both = timed_run(entry.format("a", a.url) + entry.format("b", b.url), args.approaches, Path(tmp))
    slower = max(alone_a, alone_b)
    print(f"Model A alone ({args.delay_a:g} s per request): {alone_a:6.2f} s")
    print(f"Model B alone ({args.delay_b:g} s per request): {alone_b:6.2f} s")
    print(f"Both in one invocation:                {both:6.2f} s")
    print(f"Ratio, both / slower alone:            {both / slower:6.2f}  (one after the other would be "
          f"{(alone_a + alone_b) / slower:.2f})")
    print("Each figure includes the command's own start-up (Python, DSPy, LiteLLM imports), paid once per run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
