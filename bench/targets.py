"""The targets of bench/nightly.py: the most each step may take against its floor, the delta
night's seconds at 1 M contacts and any task's memory at 2 M, and the lines that judge a run by
them (with, for a missed ratio, what the parts its floor leaves out take alone)."""

from __future__ import annotations

from floors import PARTS

TARGETS = {  # task -> the most it may take, as a multiple of its floor (the delta night)
    "score": 2.0,
    "assign_phases": 1.5,
    "decide_campaigns": 1.5,
}
NIGHT_SECONDS = 60.0  # the delta night at 1 M contacts, all tasks but the SMTP conversation
TASK_MB = 500.0  # any task as its own process, at 2 M contacts


def print_parts(task: str, measured: list[tuple[float, int]], floor: float) -> float:
    """The lines below a task: each part it cannot do without, measured alone, as a multiple of
    the task's floor; returns what they take together, one after the other as the step does
    them, as a multiple of the floor."""
    for label, (secs, n) in zip(PARTS[task], measured, strict=True):
        print(f"      a part alone, {label}: {secs:.1f}s ({n:,} rows) = {secs / floor:.2f}x "
              "the floor")  # fmt: skip
    return sum(secs for secs, _ in measured) / floor


def print_targets(figures: dict, mb: float, contacts: int) -> None:
    """The delta night (``figures`` of ``report``) against the targets: each ratio to its floor,
    the seconds of all tasks but sending (a target at 1 M contacts); and ``mb``, the largest task
    of either night as its own process (at 2 M)."""
    ratios, together, seconds = figures["ratios"], figures["together"], figures["but_sending"]
    rows = [
        (f"{task} at most {limit:g}x its floor", f"{ratios[task]:.2f}x", ratios[task] <= limit)
        for task, limit in TARGETS.items()
        if task in ratios
    ]
    at_1m, at_2m = contacts == 1_000_000, contacts == 2_000_000  # a verdict at its count only
    rows += [
        (f"all tasks but sending under {NIGHT_SECONDS:.0f}s (at 1,000,000 contacts)",
         f"{seconds:.1f}s", seconds < NIGHT_SECONDS if at_1m else None),
        (f"any task as its own process under {TASK_MB:.0f} MB (at 2,000,000; estimate)",
         f"{mb:.0f} MB", mb < TASK_MB if at_2m else None),
    ]  # fmt: skip
    print("\ntargets (the delta night; memory: either night; floors measured in the same run)")
    for what, value, met in rows:
        verdict = "met" if met else "missed" if met is not None else f"not judged at {contacts:,}"
        print(f"  {what:<66}{value:>10}   {verdict}")
    for task, ratio in together.items():
        if task in TARGETS and ratios[task] > TARGETS[task]:  # missed: what its parts take
            more = "more" if ratio > TARGETS[task] else "less"
            print(f"  {task}: its parts alone, one after the other, take {ratio:.2f}x its floor,"
                  f" {more} than the {TARGETS[task]:g}x it may take")  # fmt: skip
