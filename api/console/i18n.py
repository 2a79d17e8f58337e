"""The console's words in Chinese and English; the language comes from a cookie or the browser."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_WORDS: Mapping[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "app": ("客诉工作台", "kesu console"),
    "cases": ("案件", "Cases"),
    "reports": ("报表", "Reports"),
    "definitions": ("流程定义", "Processes"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "token": ("访问令牌", "Access token"),
    "token_help": (
        "输入管理员发给您的访问令牌。令牌保存在仅限本站的安全 Cookie 中。",
        "Enter the access token your administrator gave you. It is kept in a secure cookie.",
    ),
    "bad_token": ("令牌无效", "Unknown token"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "roles": ("角色", "Roles"),
    "filter": ("筛选", "Filter"),
    "process": ("流程", "Process"),
    "stage": ("阶段", "Stage"),
    "priority": ("优先级", "Priority"),
    "assignee": ("责任人", "Assignee"),
    "overdue_only": ("仅显示超时", "Overdue only"),
    "include_finished": ("含已结案", "Include finished"),
    "any": ("全部", "Any"),
    "case": ("案件", "Case"),
    "next_due": ("下一期限", "Next due"),
    "opened": ("受理时间", "Opened"),
    "status": ("状态", "Status"),
    "overdue": ("已超时", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "on_time": ("正常", "On time"),
    "finished": ("已结束", "Finished"),
    "merged_into": ("已合并至", "Merged into"),
    "duplicates": ("已并入的重复投诉", "Duplicates merged into it"),
    "case_group": ("群体投诉", "Group complaint"),
    "group_plan": ("统一处理方案", "Handling plan"),
    "no_cases": ("没有符合条件的案件。", "No cases match."),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "fields": ("案件信息", "Fields"),
    "masked_note": (
        "客户信息已遮蔽：您的角色无权查看。",
        "Customer data is masked: your roles may not see it.",
    ),
    "clocks": ("时限", "Deadlines"),
    "timeline": ("处理记录", "Timeline"),
    "actions": ("可执行操作", "Actions"),
    "no_actions": ("您的角色在此阶段没有可执行的操作。", "Your roles have no action here."),
    "send": ("提交", "Send"),
    "refused": ("操作被拒绝", "Refused"),
    "applied": ("已执行", "Applied"),
    "when": ("时间", "When"),
    "event": ("事件", "Event"),
    "actor": ("操作人", "Actor"),
    "from_to": ("阶段变化", "Stage"),
    "notes": ("说明", "Notes"),
    "inputs": ("输入", "Inputs"),
    "started": ("开始", "Started"),
    "due": ("到期", "Due"),
    "paused": ("暂停中", "Paused"),
    "stopped": ("已停止", "Stopped"),
    "breached": ("已违约", "Breached"),
    "warning": ("预警", "Warning"),
    "provisional": ("暂定", "Provisional"),
    "now": ("现在", "Now"),
    "no_due": ("无到期时间", "No due time"),
    "path": ("流程图（当前阶段与已走路径）", "Process (current stage and path taken)"),
    "period": ("期间", "Period"),
    "since": ("起", "From"),
    "until": ("止", "Until"),
    "group_by": ("分组", "Group by"),
    "dated_by": ("按", "Dated by"),
    "show": ("显示", "Show"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "compliance": ("时限达成率", "Deadline compliance"),
    "times": ("处理时长 (p50 / p90)", "Times (p50 / p90)"),
    "satisfaction": ("满意度", "Satisfaction"),
    "rates": ("复核率与重开率", "Review and reopen rates"),
    "group": ("分组", "Group"),
    "opened_count": ("受理", "Opened"),
    "closed_count": ("结案", "Closed"),
    "first_response": ("首次响应", "First response"),
    "resolution": ("解决", "Resolution"),
    "csat": ("CSAT 均分", "CSAT mean"),
    "nps": ("NPS", "NPS"),
    "review_rate": ("复核率", "Review rate"),
    "reopen_rate": ("重开率", "Reopen rate"),
    "responsibility": ("责任认定", "Responsibility"),
    "no_records": (
        "报表需要案件数据库（KESU_DATABASE_URL）。",
        "Reports need the case database (KESU_DATABASE_URL).",
    ),
    "no_data": ("此期间没有数据。", "No data in this period."),
    "version": ("版本", "Version"),
    "stages": ("阶段", "Stages"),
    "diagram": ("流程图", "Diagram"),
    "events": ("事件", "Events"),
    "language": ("English", "中文"),
    "skip": ("跳到正文", "Skip to content"),
    "not_found": ("找不到该案件", "No such case"),
    "required": ("必填", "required"),
    "yes": ("是", "yes"),
}


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice, else the browser's first supported language, else Chinese."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE


def words(language: str) -> dict[str, str]:
    index = 1 if language == "en" else 0
    return {key: pair[index] for key, pair in _WORDS.items()}
