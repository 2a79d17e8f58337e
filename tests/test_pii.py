"""Who sees customer data: a definition's ``pii_roles``, checked when it loads."""

from __future__ import annotations

import pytest

from process.loader import DefinitionError, load_definition_text
from service.pii import MASK, mask_pii, may_see_pii

DEFINITION = """\
process: demo
version: 1
roles: [agent, supervisor]
pii_roles: [supervisor]
fields:
  customer_id: {type: string}
  phone: {type: string, pii: true}
stages:
  intake: {initial: true, on: {close: {to: closed, roles: [any]}}}
  closed: {final: true}
opened_by: [agent]
"""


def test_only_pii_roles_see_pii_fields() -> None:
    definition = load_definition_text(DEFINITION, "demo.yaml")
    assert may_see_pii(definition, ["agent", "supervisor"])
    assert not may_see_pii(definition, ["agent"]) and not may_see_pii(definition, [])
    values = {"customer_id": "C-1", "phone": "13800000000"}
    assert mask_pii(values, definition) == {"customer_id": "C-1", "phone": MASK}


def test_an_unknown_pii_role_is_reported_with_its_line() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition_text(DEFINITION.replace("[supervisor]", "[supervisr]"), "demo.yaml")
    assert caught.value.problems == [
        "demo.yaml:4: pii_roles.0: unknown role 'supervisr'; did you mean 'supervisor'?"
    ]
