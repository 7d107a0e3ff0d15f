"""``journeyflow demo --nights N`` with the repository config as it is: a holdout on
tripwire_offer and an A/B test of upsell's subject line, the demo shop's customers answering the
mail between the nights, then the results. The emails in the local outbox show that no held-out
contact got a tripwire offer and that every upsell email is the variant its contact is in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml

from journeyflow.config import parse_config
from journeyflow.learn.assign import assignment
from tests.conftest import REPOSITORY_CONFIG

INDEX = re.compile(r"(\d+)@")


@pytest.mark.slow
def test_three_nights_of_the_demo_show_a_holdout_and_an_ab_test():
    home = Path(tempfile.mkdtemp(prefix="jf-nights-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(JOURNEYFLOW_HOME=str(home), JOURNEYFLOW_CONFIG=str(REPOSITORY_CONFIG))
    env.pop("JOURNEYFLOW_MODE")
    journeyflow = str(Path(sys.executable).parent / "journeyflow")
    try:
        demo = subprocess.run(
            [journeyflow, "demo", "--nights", "3", "--contacts", "2000", "--date", "2026-10-10"],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        out = demo.stdout
        assert demo.returncode == 0, out[-3000:] + demo.stderr[-3000:]
        assert out.count("purchases in the days after (simulated)") == 2
        assert "journeyflow_nightly 2026-10-10: SUCCESS" in out
        results = out[out.index("campaign results:") :]
        assert re.search(r"tripwire_offer\n.*\n  1    main .*\n  1    holdout ", results)
        assert re.search(r"upsell\n.*\n  1    a .*\n  1    b .*vs a", results)
        assert "tripwire_offer step 1 variant main: " in results

        camps = parse_config(yaml.safe_load(REPOSITORY_CONFIG.read_text())).campaigns
        tripwire, upsell = camps.get("tripwire_offer"), camps.get("upsell")
        seen = {"tripwire_offer": 0, "upsell": 0}
        for eml in (home / "outbox").rglob("*.eml"):
            msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
            campaign = str(msg["X-Campaign"])
            if campaign not in seen:
                continue
            address = msg["To"].addresses[0].addr_spec  # the demo shop: <name><index>@example.<tld>
            index = int(INDEX.search(address).group(1))
            contact_id = f"C{index + 1:07d}"
            if campaign == "tripwire_offer":
                assert assignment(tripwire, 1, contact_id) != "holdout", contact_id
            else:
                assert msg["X-Campaign-Variant"] == assignment(upsell, 1, contact_id)
            seen[campaign] += 1
        assert seen["tripwire_offer"] > 100 and seen["upsell"] > 50
    finally:
        subprocess.run([journeyflow, "stop-db"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
