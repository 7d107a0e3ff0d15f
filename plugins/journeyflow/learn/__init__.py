"""Test and learn: holdouts and variants (``assign``), conversions attributed to the messages of a
run date (``results``), the uplift over the holdout with its confidence interval (``stats``)."""
