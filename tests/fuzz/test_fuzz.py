"""A short seeded fuzz campaign over every family: no host crash, no hang, no leak, no
broken invariant, no unclear error. The long run is ``python bench/fuzz.py``."""

from tests.fuzz.cases import FAMILIES, Outcome, run_case
from tests.fuzz.runner import campaign, cases_for


def test_a_short_seeded_campaign_finds_nothing():
    report = campaign(cases_for(seed=1, count=150), workers=2, watchdog=60)
    assert report.cases == 150 and report.guests > 150
    assert report.clean, report.line() + "\n" + "\n".join(
        map(str, (report.crashes + report.hangs + report.leaks + report.integrity +
                  report.unclear)[:20]))


def test_cases_are_deterministic(tmp_path):
    from tests.fuzz.cases import make_root
    root = make_root(str(tmp_path))
    for family in FAMILIES:
        first, again = run_case(family, 7, root), run_case(family, 7, root)
        assert isinstance(first, Outcome) and first == again
