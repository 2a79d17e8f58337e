"""The process definitions the benchmarks run: the shipped complaint process and generated ones."""

from __future__ import annotations

from bench.common import PROJECT
from process.compiler import CompiledSpec, compile_definition
from process.loader import load_definition, load_definition_text

DEADLINE_PROCESS = "bench_deadline"


def complaint_spec() -> CompiledSpec:
    return compile_definition(load_definition(PROJECT / "definitions" / "complaint.yaml"))


def deadline_spec(seconds: int) -> CompiledSpec:
    """A case that waits for one deadline of ``seconds``; its breach closes the case."""
    text = f"""
process: {DEADLINE_PROCESS}
version: 1
title: 时限精度 Deadline precision
opened_by: [any]
fields:
  customer_id: {{type: string, required: true}}
stages:
  waiting:
    title: 等待答复 Waiting for an answer
    initial: true
    on: {{answer: {{to: done, roles: [any]}}}}
  done:
    final: true
deadlines:
  reply:
    title: {seconds}秒内答复
    start: case_opened
    stop: {{enter: done}}
    within: {seconds}s
    clock: calendar
    on_breach: [{{to: done}}]
"""
    return compile_definition(load_definition_text(text, f"{DEADLINE_PROCESS}.yaml"))


def generated_definition(stages: int) -> str:
    """A long but realistic process: every stage has events with roles, inputs and guards,
    entry actions and a decision; every tenth has a timeout and starts a deadline."""
    lines = [
        "process: generated",
        "version: 1",
        "title: 生成的长流程 Generated long process",
        "roles: [agent, handler, supervisor]",
        "opened_by: [agent]",
        "fields:",
        "  customer_id: {type: string, required: true}",
        "  customer_name: {type: string, pii: true, title: 客户姓名}",
        "  amount: {type: number}",
        "  severity: {type: enum, values: [urgent, normal, low], default: normal}",
        "  team: {type: string}",
        "  note: {type: text}",
        "  step: {type: integer}",
        "stages:",
    ]
    last = stages - 1
    for index in range(stages):
        name = f"s{index:03d}"
        lines.append(f"  {name}:")
        lines.append(f"    title: 第{index}步 Step {index}")
        if index == 0:
            lines.append("    initial: true")
        if index == last:
            lines.append("    final: true")
            continue
        lines.append("    on_enter:")
        lines.append(f"      - {{set: {{step: {index}}}}}")
        lines.append("      - {decide: routing}")
        lines.append(f"      - {{notify: customer, template: step_{index}}}")
        lines.append("    on:")
        lines.append(
            f"      next: {{to: s{index + 1:03d}, roles: [agent, handler], requires: [note]}}"
        )
        if index > 0:
            lines.append(f"      back: {{to: s{index - 1:03d}, roles: [supervisor]}}")
        lines.append(
            f"      jump: {{to: s{min(index + 10, last):03d}, roles: [supervisor], "
            "when: \"severity == 'urgent' or amount > 50000\"}"
        )
        if index % 10 == 0:
            lines.append(f"    timeout: {{after: 7d, to: s{last:03d}}}")
    lines.append("deadlines:")
    for start in range(0, last, 10):
        lines += [
            f"  d{start:03d}:",
            f"    start: {{enter: s{start:03d}}}",
            f"    stop: {{leave: s{min(start + 9, last):03d}}}",
            "    within: {urgent: 4h, normal: 24h, low: 48h}",
            "    by: severity",
            "    clock: calendar",
            "    warn: [50%, 75%]",
            "    on_warn: [{notify: supervisor, template: deadline_warning}]",
            "    on_breach: [{notify: supervisor, template: deadline_breached}]",
        ]
    lines += [
        "decisions:",
        "  routing:",
        '    - {when: "amount > 50000", set: {team: 大额 large}}',
        "    - {when: \"severity == 'urgent'\", set: {team: 紧急 urgent}}",
        '    - {when: "true", set: {team: 综合 general}}',
    ]
    return "\n".join(lines) + "\n"
