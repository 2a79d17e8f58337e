"""No definition can crash or hang kesu: seeded mutants through the loader and the engine.

``make fuzz N=10000`` runs the same mutator for longer and prints the outcome table.
"""

from __future__ import annotations

from tests.fuzz_support import ACCEPTED, REFUSED, Tally, mutants

SUITE_MUTANTS = 200
ENGINE_MUTANTS = 60


def test_mutated_definitions_are_refused_or_accepted_never_crash_or_hang() -> None:
    tally = Tally()
    for result in mutants(SUITE_MUTANTS, seed=19):
        tally.add(result)
    assert tally.failures == [], tally.table()
    # The mutator must exercise both sides, or the test proves nothing.
    assert tally.counts[REFUSED] > SUITE_MUTANTS // 4
    assert tally.counts[ACCEPTED] > SUITE_MUTANTS // 20


def test_every_accepted_definition_runs_cases_on_a_virtual_clock() -> None:
    # Edits that keep a definition valid (new events, deadlines, restarts, long durations):
    # whatever the loader accepts, the engine opens a case on and drives through its events.
    tally = Tally()
    for result in mutants(ENGINE_MUTANTS, seed=14, valid_leaning=True):
        tally.add(result)
    assert tally.failures == [], tally.table()
    assert tally.counts[ACCEPTED] > ENGINE_MUTANTS // 2
