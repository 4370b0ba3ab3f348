"""Shared fixtures: the two-tenant cast.

acme + alice (accountant), globex + charlie (accountant, must never see acme),
sam (support staff, sees every tenant).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from tenants.models import Role, Tenant
from tests.factories import make_member, make_tenant


@dataclass
class Cast:
    acme: Tenant
    globex: Tenant
    alice: User
    charlie: User
    sam: User


@pytest.fixture
def cast(db: None) -> Cast:
    acme = make_tenant(slug="acme", name="Acme Builders")
    globex = make_tenant(slug="globex", name="Globex Construction")
    alice = make_member("alice", acme)
    charlie = make_member("charlie", globex)
    sam = make_member("sam", acme, role=Role.SUPPORT)
    return Cast(acme=acme, globex=globex, alice=alice, charlie=charlie, sam=sam)
