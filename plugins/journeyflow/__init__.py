"""journeyflow: lifecycle marketing pipeline."""
