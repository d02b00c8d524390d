"""One run on a time axis: its LM calls in one lane, its tool calls below, so a reader sees where the run
waited and whether any two tool calls ever ran at once (DSPy's arms: never; the batch arm: in rounds).

Drawn as inline SVG from the traces file's own timings (`at_s`, `duration_s`), on the run's clock.
"""

from __future__ import annotations

from html import escape

WIDTH = 900.0
LANE = 11.0
MAX_TOOL_LANES = 8
COLOURS = {"lm": "#4C72B0", "answered": "#55A868", "transient_failure": "#C44E52", "invalid": "#8C8C8C",
           "tool_error": "#8172B3"}


def _spans(calls: list, kind: str | None = None) -> list[tuple[float, float, str]]:
    out = []
    for call in calls:
        at, duration = call.get("at_s"), call.get("duration_s")
        if isinstance(at, (int, float)) and isinstance(duration, (int, float)):
            out.append((float(at), float(duration), kind or str(call.get("outcome") or "answered")))
    return out


def _lanes(spans: list[tuple[float, float, str]]) -> list[int]:
    """Each span's lane: the first whose last span has ended, so overlapping calls stack."""
    ends: list[float] = []
    lanes = []
    for at, duration, _ in spans:
        lane = next((i for i, end in enumerate(ends) if end <= at + 1e-9), None)
        if lane is None:
            lane = min(len(ends), MAX_TOOL_LANES - 1)
            if lane == len(ends):
                ends.append(0.0)
        ends[lane] = at + duration
        lanes.append(lane)
    return lanes


def timeline_svg(trace: dict, wall_s: float) -> str:
    """The run's timeline, or "" when its trace has no timings (files written before they were kept)."""
    lm = _spans(trace.get("lm_calls") or [], "lm")
    tools = sorted(_spans(trace.get("tool_calls") or []))
    if not lm and not tools:
        return ""
    end = max([wall_s, *(a + d for a, d, _ in lm + tools)]) or 1.0
    scale = WIDTH / end
    lanes = _lanes(tools)
    tool_lanes = max(lanes, default=-1) + 1
    height = LANE * (2 + tool_lanes) + 16

    def rect(at: float, duration: float, y: float, colour: str, title: str) -> str:
        return (f'<rect x="{at * scale:.1f}" y="{y:.1f}" width="{max(duration * scale, 0.8):.1f}" '
                f'height="{LANE - 2:.0f}" fill="{colour}"><title>{escape(title)}</title></rect>')

    parts = [rect(a, d, 0, COLOURS["lm"], f"LM call at {a:.2f} s, {d:.2f} s") for a, d, _ in lm]
    parts += [rect(a, d, LANE * (1.5 + lane), COLOURS.get(kind, COLOURS["answered"]),
                   f"tool call at {a:.3f} s, {d * 1000:.0f} ms, {kind}")
              for (a, d, kind), lane in zip(tools, lanes)]
    axis_y = LANE * (1.5 + tool_lanes) + 4
    ticks = "".join(f'<text x="{min(t * scale, WIDTH - 30):.1f}" y="{axis_y + 10:.1f}" font-size="9" '
                    f'fill="#5b6470">{t:.1f} s</text>' for t in (0, end / 2, end))
    waiting = sum(d for _, d, _ in tools)
    caption = (f"LM calls (top lane) and tool calls (below; green answered, red failed transiently, grey invalid"
               f"{', purple your tool raised' if any(kind == 'tool_error' for _, _, kind in tools) else ''}) "
               f"on the run's clock: {len(lm)} LM calls, {len(tools)} tool calls adding up to {waiting:.2f} s of "
               f"{end:.2f} s" + (f", up to {tool_lanes} at once" if tool_lanes > 1 else ", one at a time"))
    return (f'<figure class="timeline"><svg viewBox="0 0 {WIDTH:.0f} {height:.0f}" width="100%" '
            f'role="img" aria-label="run timeline">{"".join(parts)}'
            f'<line x1="0" x2="{WIDTH:.0f}" y1="{axis_y:.1f}" y2="{axis_y:.1f}" stroke="#c9ced6"/>{ticks}</svg>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")
