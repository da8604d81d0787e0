"""The shipped orgs are the showcase: they validate, check clean, and say what the documents say."""

from __future__ import annotations

from datetime import timedelta

import pytest

import cxrules
from cxrules.checks import run_checks

from conftest import ORGS, SEED_ORGS


def test_the_three_documented_centres_are_shipped():
    assert sorted(p.stem for p in SEED_ORGS) == ["aftersales", "automotive", "logistics"]


@pytest.mark.parametrize("path", SEED_ORGS, ids=lambda p: p.stem)
def test_seed_org_validates_and_checks_without_errors(path):
    result = cxrules.validate_path(path)
    assert result.diagnostics == ()
    outcome = run_checks(result.org)
    assert [f"{d.location} {d.code} {d.message}" for d in outcome.diagnostics if d.severity is cxrules.Severity.ERROR] == []
    for accepted in result.org.accepted:  # every warning kept is explained in the file
        assert len(accepted.reason) >= 10


@pytest.mark.parametrize("path", SEED_ORGS, ids=lambda p: p.stem)
def test_seed_org_has_chinese_labels_for_its_people(path):
    org = cxrules.load_org(path)
    assert org.info.locale == "zh-CN"
    assert all(role.label for role in org.roles)
    assert any("\u4e00" <= ch <= "\u9fff" for role in org.roles for ch in role.label)


def test_automotive_models_the_revisit_rule_of_the_4s_dealership():
    org = cxrules.load_org(ORGS / "automotive.yaml")
    revisits = [f for f in org.followups if f.on == "resolved" and f.match.categories and "complaint" in f.match.categories]
    assert revisits, "003: complaints are revisited after handling"
    revisit = revisits[0]
    assert revisit.within <= timedelta(days=3)          # 必须保证在三天之内回访
    assert revisit.coverage_members == 1.0               # 必须保证会员客户的100%的回访
    assert revisit.quiet_hours                           # 避免在客户休息时打扰客户
    assert revisit.record                                # 必须保证回访信息的完整记录
    assert revisit.reopen_when_unsatisfied


def test_automotive_models_the_complaint_loop_and_the_surge_team():
    org = cxrules.load_org(ORGS / "automotive.yaml")
    loops = [w for w in org.workflows if len(w.states) >= 7 and w.match.categories and "complaint" in w.match.categories]
    assert loops
    assert org.surges and all(org.role(s.activate).temporary for s in org.surges)
    assert any(role.authority for role in org.roles)
    assert any(h.returns for h in org.handoffs), "000: after-sales → technical support and the answer comes back"


def test_logistics_leaves_no_duty_unclaimed_and_has_a_surge_team():
    org = cxrules.load_org(ORGS / "logistics.yaml")
    claimed = {duty for role in org.roles for duty in role.duties}
    assert {d.id for d in org.duties} <= claimed
    assert all(len(d.accountable) == 1 for d in org.duties)
    assert org.surges


def test_aftersales_hand_offs_go_forward_without_ping_pong():
    org = cxrules.load_org(ORGS / "aftersales.yaml")
    outcome = run_checks(org, cxrules.CheckConfig(select=frozenset({"CX511"})))
    assert org.handoffs and outcome.diagnostics == ()
