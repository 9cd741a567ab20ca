"""A workflow definition drawn as SVG: its chain of steps top to bottom, each container (for
each, while, if, parallel, saga...) a frame around its blocks side by side, decisions as
labelled branches, compensations beside the step they undo. With an instance, every step is
coloured by the state of its pointers. Every text is escaped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html import escape

from liteflow.core.definition import StepOutcome, WorkflowDefinition, WorkflowStep
from liteflow.core.primitives import (
    Decide,
    Delay,
    EndWorkflow,
    Foreach,
    If,
    OutcomeSwitch,
    Parallel,
    Recur,
    Saga,
    Schedule,
    Sequence,
    SubWorkflow,
    WaitFor,
    When,
    While,
)
from liteflow.core.records import WorkflowInstance
from liteflow.operate import pointer_state

__all__ = ["STATE_ORDER", "draw"]

NODE_W, NODE_H, GAP, PAD, LABEL_H = 184, 38, 22, 12, 18
#: Which state colours a step run by several pointers: the first one any of them is in.
STATE_ORDER = (
    "failed",
    "running",
    "waiting",
    "sleeping",
    "pending",
    "compensated",
    "skipped",
    "cancelled",
    "complete",
)
_KINDS: dict[object, str] = {
    Foreach: "for each",
    While: "while (loop)",
    If: "if",
    Parallel: "parallel",
    Saga: "saga",
    Schedule: "schedule",
    Recur: "recur (loop)",
    OutcomeSwitch: "on the outcome",
    Sequence: "branch",
    WaitFor: "wait for",
    Delay: "delay",
    Decide: "decide",
    EndWorkflow: "end workflow",
    SubWorkflow: "sub-workflow",
}


@dataclass
class _Box:
    """Drawn at (0, 0); `width` and `height` say how much room it takes."""

    width: float
    height: float
    parts: list[str] = field(default_factory=list)

    def placed(self, x: float, y: float) -> str:
        return f'<g transform="translate({x:.0f},{y:.0f})">{"".join(self.parts)}</g>'


def _input(step: WorkflowStep, name: str) -> str | None:
    for mapping in step.inputs:
        if mapping.property == name and not callable(mapping.value):
            return str(mapping.value)
    return None


def _title(step: WorkflowStep) -> tuple[str, str]:
    """The step's name and what kind of step it is."""
    body = step.body
    kind = _KINDS.get(body, "")
    if body is WaitFor:
        kind = f"wait for {_input(step, 'event_name') or 'an event'}"
    elif body is SubWorkflow:
        kind = f"sub-workflow {_input(step, 'workflow_id') or ''}".strip()
    elif body is When:
        value = _input(step, "expected_outcome")
        kind = "when …" if value is None else f"when = {value}"
    name = step.name or (kind if kind and isinstance(body, type) and body in _KINDS else step.display_name)
    return name, kind if name != kind else ""


class _Drawing:
    def __init__(self, definition: WorkflowDefinition, instance: WorkflowInstance | None) -> None:
        self.definition = definition
        self.states: dict[int, Counter[str]] = {}
        for pointer in instance.execution_pointers if instance is not None else ():
            self.states.setdefault(pointer.step_id, Counter())[pointer_state(pointer)] += 1
        self.visited: set[int] = set()

    def state(self, step_id: int) -> str:
        counts = self.states.get(step_id)
        if not counts:
            return "none"
        return next((state for state in STATE_ORDER if counts[state]), "none")

    def node(self, step: WorkflowStep, width: float = NODE_W) -> _Box:
        name, kind = _title(step)
        state = self.state(step.id)
        counts = self.states.get(step.id, Counter())
        shown_name = name if len(name) <= 26 else name[:25] + "…"
        detail = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
        tip = f"step {step.id}: {name}" + (f" ({kind})" if kind else "") + (f" — {detail}" if detail else "")
        several = sum(counts.values())
        subtitle = " · ".join(part for part in (kind, "" if state == "none" else state) if part)
        parts = [
            f'<g class="step state-{escape(state)}" data-step="{step.id}"><title>{escape(tip)}</title>',
            f'<rect width="{width:.0f}" height="{NODE_H}" rx="6"/>',
            f'<text x="10" y="16" class="name">{escape(shown_name)}</text>',
            f'<text x="10" y="31" class="kind">{escape(subtitle)}</text>',
        ]
        if several > 1:
            right = f'x="{width - 8:.0f}" text-anchor="end"'
            parts.append(f'<text {right} y="16" class="count">x{several}</text>')
        jumps = [o for o in step.outcomes if o.jump]
        for outcome in jumps:
            target = self.definition.steps[outcome.next_step]
            parts.append(
                f'<text x="{width - 8:.0f}" y="31" class="jump" text-anchor="end">'
                f"↪ {escape(_title(target)[0][:18])}</text>"
            )
        parts.append("</g>")
        return _Box(width, NODE_H, parts)

    def container(self, step: WorkflowStep) -> _Box:
        header = self.node(step)
        blocks = [self.block(child_id) for child_id in step.children]
        inner_w = sum(b.width for b in blocks) + GAP * max(len(blocks) - 1, 0)
        width = max(header.width, inner_w) + 2 * PAD
        height = PAD + header.height + GAP + max((b.height for b in blocks), default=0) + PAD
        frame = (
            "frame saga" if step.is_transaction else "frame loop" if step.body in (While, Recur) else "frame"
        )
        parts = [f'<rect class="{frame}" width="{width:.0f}" height="{height:.0f}" rx="10"/>']
        parts.append(header.placed((width - header.width) / 2, PAD))
        x = (width - inner_w) / 2
        top = PAD + header.height + GAP
        for block in blocks:
            parts.append(_arrow(width / 2, PAD + header.height, x + block.width / 2, top))
            parts.append(block.placed(x, top))
            x += block.width + GAP
        return _Box(width, height, parts)

    def item(self, step: WorkflowStep) -> _Box:
        """A step as drawn in its chain: its node or frame, with its compensation beside it."""
        box = self.container(step) if step.children else self.node(step)
        if step.compensation_step_id is None:
            return box
        undo_step = self.definition.steps[step.compensation_step_id]
        undo = self.container(undo_step) if undo_step.children else self.node(undo_step)
        # As wide on the left as the compensation is on the right, so the step stays on its chain.
        side = GAP * 2.5 + undo.width
        parts = [box.placed(side, 0), f'<text x="{side + box.width + 6:.0f}" y="14" class="undo">undo</text>']
        parts.append(f'<g class="compensation">{undo.placed(side + box.width + GAP * 2.5, 0)}</g>')
        return _Box(box.width + 2 * side, max(box.height, undo.height), parts)

    def block(self, first_id: int) -> _Box:
        """A chain of steps from `first_id`, ending where it ends or splits into branches."""
        items: list[_Box] = []
        step_id: int | None = first_id
        while step_id is not None and step_id not in self.visited:
            self.visited.add(step_id)
            step = self.definition.steps[step_id]
            items.append(self.item(step))
            following = [o for o in step.outcomes if not o.jump]
            step_id = None
            if len(following) == 1:
                step_id = following[0].next_step
            elif following:
                items.append(self.branches(following))
        width = max((box.width for box in items), default=0)
        parts: list[str] = []
        y = 0.0
        for index, box in enumerate(items):
            if index:
                parts.append(_arrow(width / 2, y - GAP, width / 2, y))
            parts.append(box.placed((width - box.width) / 2, y))
            y += box.height + GAP
        return _Box(width, max(y - GAP, 0), parts)

    def branches(self, outcomes: list[StepOutcome]) -> _Box:
        blocks = [(outcome, self.block(outcome.next_step)) for outcome in outcomes]
        width = sum(b.width for _, b in blocks) + GAP * (len(blocks) - 1)
        parts: list[str] = []
        x = 0.0
        for outcome, block in blocks:
            value = "" if outcome.value is StepOutcome._ANY else repr(outcome.value)
            label = outcome.label or value
            parts.append(f'<text x="{x + block.width / 2:.0f}" y="12" class="branch" text-anchor="middle">')
            parts.append(f"{escape(label[:30])}</text>")
            parts.append(block.placed(x, LABEL_H))
            x += block.width + GAP
        height = LABEL_H + max(b.height for _, b in blocks)
        return _Box(width, height, parts)


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    ends = f'x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}"'
    return f'<line class="edge" {ends} marker-end="url(#arrow)"/>'


def draw(definition: WorkflowDefinition, instance: WorkflowInstance | None = None) -> str:
    """The SVG of `definition`, coloured by `instance`'s pointers when given."""
    drawing = _Drawing(definition, instance)
    chart = drawing.block(definition.initial_step_id)
    width, height = chart.width + 2 * PAD, chart.height + 2 * PAD
    return (
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(definition.id)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>'
        f"{chart.placed(PAD, PAD)}</svg>"
    )
