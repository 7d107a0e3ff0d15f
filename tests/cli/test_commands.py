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


def test_preview_shows_a_variant_and_names_the_ones_there_are(db, world, cast, config, capsys):
    from journeyflow import cli
    from journeyflow.config import load_config
    from journeyflow.learn.assign import assignment

    world.run(D)
    contact = cast["upsell"]
    assert cli.main(["preview", "upsell", "1", contact, "--variant", "b", "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "X-Campaign-Variant: b" in out and "Subject: Stativ war erst der Anfang" in out
    assert cli.main(["preview", "upsell", "1", contact, "--date", str(D)]) == 0
    own = assignment(load_config().campaigns.get("upsell"), 1, contact)
    assert f"X-Campaign-Variant: {own}" in capsys.readouterr().out  # the contact's own variant
    assert cli.main(["preview", "upsell", "1", contact, "--variant", "c"]) == 2
    assert "has no variant 'c' (variants: a, b;" in capsys.readouterr().err
    assert cli.main(["preview", "upsell", "2", contact]) == 2
    assert "upsell has no step 2 (steps: 1)" in capsys.readouterr().err
