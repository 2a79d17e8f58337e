"""``starter.py demo``: sample cases through the shipped processes, with timelines and a summary.

Each scenario is data: the case to open and the events to send. Two requests are refused on
purpose, to show how kesu explains a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .cases import Kesu, KesuError
from .render import render_case

AGENT = ("王敏 agent", ["agent"])
SUPERVISOR = ("李强 supervisor", ["supervisor"])
HANDLER = ("陈静 handler", ["handler"])
CUSTOMER = ("customer", ["customer"])
REVIEWER = ("赵磊 reviewer", ["reviewer"])
MANAGER = ("周总 manager", ["manager"])


def rectification(action: str, owner: str, days: int = 14) -> dict[str, Any]:
    """A rectification (整改) due ``days`` from today in the complaint process's zone."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    due = (today + timedelta(days=days)).isoformat()
    return {"rectification": action, "rectification_owner": owner, "rectification_due": due}


@dataclass(frozen=True)
class Send:
    event: str
    by: tuple[str, list[str]]
    data: dict[str, Any] = field(default_factory=dict)
    refused: bool = False
    """True where the demo expects kesu to refuse the event."""


@dataclass(frozen=True)
class Scenario:
    title: str
    process: str
    fields: dict[str, Any]
    events: list[Send]


SCENARIOS = [
    Scenario(
        "信用卡年费投诉，处理满意后结案 A card fee complaint, resolved and closed",
        "complaint",
        {"customer_id": "C-10001", "customer_name": "张女士", "phone": "13800000001",
         "channel": "phone", "category": "card", "description": "年费未经同意被扣收"},
        [
            Send("accept", AGENT),
            Send("close", HANDLER, {"responsibility": "process"}, refused=True),
            Send("assign", SUPERVISOR, {"assignee": "陈静"}),
            Send("submit_plan", HANDLER, {"plan": "核实扣费记录，符合条件则退还年费"}),
            Send("propose", HANDLER, {"resolution": "已退还年费 300 元"}),
            Send("satisfied", CUSTOMER, {"csat": 5}),
            Send(
                "close", HANDLER,
                {"responsibility": "process", "root_cause": "业务规则",
                 **rectification("年费收取前增加客户确认环节", "刘洋 fees desk")},
            ),
        ],
    ),
    Scenario(
        "监管转办的大额理财投诉：升级、补充材料、复核 A regulator referral: escalated, reviewed",
        "complaint",
        {"customer_id": "C-20002", "customer_name": "刘先生", "channel": "regulator",
         "category": "wealth", "severity": "urgent", "amount": 80000,
         "description": "理财产品风险等级与告知不符"},
        [
            Send("accept", CUSTOMER, refused=True),
            Send("accept", AGENT),
            Send("escalate", AGENT),
            Send("assign", SUPERVISOR, {"assignee": "陈静"}),
            Send("ask_customer", HANDLER),
            Send("customer_replied", CUSTOMER),
            Send("propose", HANDLER, {"resolution": "补偿部分损失"}),
            Send("dissatisfied", CUSTOMER, {"csat": 2}),
            Send("propose", SUPERVISOR, {"resolution": "全额补偿并致歉"}),
            Send("satisfied", CUSTOMER, {"csat": 4}),
            Send(
                "close", SUPERVISOR,
                {"responsibility": "staff", "root_cause": "信息披露不足",
                 **rectification("理财销售人员风险告知培训", "孙丽 wealth desk", days=21)},
            ),
            Send("request_review", CUSTOMER, {"review_reason": "希望确认责任人已被处理"}),
            Send("uphold", REVIEWER),
        ],
    ),
    Scenario(
        "客户撤诉 A complaint withdrawn by the customer",
        "complaint",
        {"customer_id": "C-30003", "channel": "web", "category": "deposit", "severity": "low"},
        [Send("accept", AGENT), Send("withdraw", CUSTOMER)],
    ),
    Scenario(
        "银行消费投诉：延期、外部鉴定、决定 A bank complaint: extended, appraised, decided",
        "bank_complaint",
        {"customer_id": "C-50005", "customer_name": "孙女士", "channel": "regulator",
         "description": "保险理赔金额有争议"},
        [
            Send("accept", AGENT, {"assignee": "陈静"}),
            Send("approve_extension", MANAGER, {"approval_ref": "A-1", "extension_reason": "x"},
                 refused=True),
            Send("extend", SUPERVISOR, {"extension_reason": "需第三方定损 third-party assessment"}),
            Send("start_appraisal", HANDLER),
            Send("appraisal_done", HANDLER),
            Send("decide", HANDLER, {"decision": "按定损结果赔付",
                                     "decision_result": "partly_upheld"}),
        ],
    ),
    Scenario(
        "紧急服务请求：挂失 An urgent service request",
        "service_request",
        {"customer_id": "C-40004", "urgency": "urgent", "category": "card",
         "description": "银行卡丢失，申请挂失"},
        [
            Send("answer", AGENT, {"assignee": "陈静"}),
            Send("complete", HANDLER, {"resolution": "已挂失并补卡"}),
        ],
    ),
]  # fmt: skip


async def run_demo(kesu: Kesu, write: Callable[[str], None] = print) -> bool:
    """Run every scenario; True when every event went as the scenario expects."""
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    summary: list[tuple[str, str, int, str]] = []
    as_expected = True
    for number, scenario in enumerate(SCENARIOS, start=1):
        write(f"\n=== {number}. {scenario.title}")
        actor, roles = AGENT
        started = await kesu.start_case(
            scenario.process, scenario.fields, key=f"demo-{run}-{number}", actor=actor, roles=roles
        )
        for send in scenario.events:
            actor, roles = send.by
            try:
                result = await kesu.send_event(
                    started.case_id, send.event, actor=actor, roles=roles, data=send.data
                )
            except KesuError as refusal:
                write(f"  refused: {refusal}")
                as_expected &= send.refused
                continue
            as_expected &= not send.refused
            write(f"  {send.event:<16} {result.from_stage} → {result.stage}  by {actor}")
        view = await kesu.get_case(started.case_id)
        write(render_case(view, kesu.spec(scenario.process)))
        met = [
            f"{name}: {'met' if clock.met else 'missed' if clock.met is False else clock.status}"
            for name, clock in view.state.clocks.items()
        ]
        summary.append((started.case_id, view.state.stage, len(view.state.steps), ", ".join(met)))
    write("\n=== summary")
    write(f"{'case':<40} {'stage':<12} {'steps':>5}  deadlines")
    for case_id, stage, steps, deadlines in summary:
        write(f"{case_id:<40} {stage:<12} {steps:>5}  {deadlines}")
    write("all events went as expected" if as_expected else "SOME EVENTS DID NOT GO AS EXPECTED")
    return as_expected
