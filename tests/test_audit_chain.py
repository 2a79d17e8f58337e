"""The audit trail's hash chain and ``verify``, on SQLite and PostgreSQL: rows edited, deleted
or reordered behind kesu's back are found and named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from activities.storage import GENESIS, AuditLink, chain_hash, first_problem, list_events
from service.cases import KesuError
from service.records import Verdict, verify_cases
from tests.records_support import Script, store

CASE = "complaint-audit-1"
OTHER = "complaint-audit-2"


def _history(case_id: str) -> Script:
    script = Script(case_id, clocks=("response",))
    return script


@pytest.fixture
def stored(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    for case_id in (CASE, OTHER):
        s = _history(case_id)
        store(
            session_factory,
            s.open(customer_name="张女士", description="信用卡年费被重复扣收 ¥300"),
            s.step("accept", "triage", start=("response",)),
            s.step(
                "assign", "handling", actor="李强", data={"assignee": "陈静"}, stop=("response",)
            ),
            s.step("propose", "feedback", actor="陈静", data={"resolution": "退还年费"}),
            s.step("satisfied", "closure", actor="customer", data={"csat": 5, "amount": 1.0}),
        )
    return session_factory


def verdicts(sessions: sessionmaker[Session], case: str | None = None) -> dict[str, Verdict]:
    with sessions() as session:
        return {v.case.case_id: v for v in verify_cases(session, case)}


def tamper(sessions: sessionmaker[Session], sql: str, **params: object) -> None:
    with sessions.begin() as session:
        session.execute(text(sql), {"case": CASE, **params})


def test_an_untouched_trail_verifies(stored: sessionmaker[Session]) -> None:
    found = verdicts(stored)
    assert set(found) == {CASE, OTHER}
    assert all(v.problem is None and v.steps == 5 for v in found.values())
    with stored() as session:
        rows = list_events(session, CASE)
    assert rows[0].prev_hash == GENESIS
    assert [row.prev_hash for row in rows[1:]] == [row.row_hash for row in rows[:-1]]


def test_an_edited_row_is_named(stored: sessionmaker[Session]) -> None:
    tamper(stored, "UPDATE kesu_case_event SET actor = '某人' WHERE case_id = :case AND seq = 2")
    problem = verdicts(stored)[CASE].problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "edited")
    assert verdicts(stored)[OTHER].problem is None


def test_an_edited_time_is_named(stored: sessionmaker[Session]) -> None:
    with stored.begin() as session:
        row = list_events(session, CASE)[3]
        row.at = row.at - timedelta(hours=1)
    problem = verdicts(stored, CASE)[CASE].problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "edited")


def test_a_deleted_row_is_named(stored: sessionmaker[Session]) -> None:
    tamper(stored, "DELETE FROM kesu_case_event WHERE case_id = :case AND seq = 1")
    problem = verdicts(stored)[CASE].problem
    assert problem is not None and (problem.seq, problem.kind) == (1, "missing")


def test_a_deleted_last_row_is_named(stored: sessionmaker[Session]) -> None:
    tamper(stored, "DELETE FROM kesu_case_event WHERE case_id = :case AND seq = 4")
    problem = verdicts(stored)[CASE].problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "missing")


def test_a_case_without_any_row_is_named(stored: sessionmaker[Session]) -> None:
    tamper(stored, "DELETE FROM kesu_case_event WHERE case_id = :case")
    found = verdicts(stored)[CASE]
    assert found.steps == 0 and found.problem is not None and found.problem.seq == 0


def test_swapped_rows_are_named(stored: sessionmaker[Session]) -> None:
    # Swap steps 2 and 3 (through -1: the (case_id, seq) key must hold at each statement).
    for old, new in ((2, -1), (3, 2), (-1, 3)):
        tamper(
            stored,
            "UPDATE kesu_case_event SET seq = :new WHERE case_id = :case AND seq = :old",
            old=old,
            new=new,
        )
    problem = verdicts(stored)[CASE].problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "reordered")


def test_verify_one_case_by_number(stored: sessionmaker[Session]) -> None:
    with stored() as session:
        number = verdicts(stored, CASE)[CASE].case.case_number
        assert [v.case.case_id for v in verify_cases(session, number)] == [CASE]
        with pytest.raises(KesuError, match="no case 'CP-1999-000001'"):
            list(verify_cases(session, "CP-1999-000001"))


def test_hashes_survive_json_round_trips() -> None:
    content = {"data": {"amount": 1e20, "note": "退还"}, "seq": 0}
    same = {"seq": 0, "data": {"note": "退还", "amount": 100000000000000000000}}
    assert chain_hash(GENESIS, content) == chain_hash(GENESIS, same)
    assert chain_hash(GENESIS, content) != chain_hash("1" * 64, content)


def test_first_problem_on_a_chain_built_in_memory() -> None:
    links, previous = [], GENESIS
    for seq in range(3):
        content = {"seq": seq, "event": f"e{seq}"}
        row_hash = chain_hash(previous, content)
        links.append(AuditLink(seq, content, previous, row_hash))
        previous = row_hash
    assert first_problem(links, last_seq=2) is None
    problem = first_problem(links[:2], last_seq=2)
    assert problem is not None and (problem.seq, problem.kind) == (2, "missing")
