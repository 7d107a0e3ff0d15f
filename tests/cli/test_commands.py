"""The journeyflow command on a small world: plan, preview, templates check, explain, outbox."""

from __future__ import annotations

from journeyflow import campaigns
from tests.world import D


def test_cli_plan_preview_templates_explain_outbox(db, world, cast, config, capsys):
    from journeyflow import cli

    world.run(D)
    assert cli.main(["plan", "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "upsell: 3 candidates: excluded 2, queued 1" in out
    assert cli.main(["preview", "upsell", "1", cast["upsell"], "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "X-Campaign: upsell" in out and "List-Unsubscribe: <" in out
    assert cli.main(["templates", "check"]) == 0
    campaigns.decide(D)
    assert cli.main(["explain", cast["upsell_bad_payer"], "--date", str(D)]) == 0
    assert "upsell               step 1  email  excluded  bad payer" in capsys.readouterr().out
    assert cli.main(["outbox", "--date", str(D)]) == 0
    assert "tripwire_offer" in capsys.readouterr().out
    assert cli.main(["preview", "nosuch", "1", cast["upsell"]]) == 2
