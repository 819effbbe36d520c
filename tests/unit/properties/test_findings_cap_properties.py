"""Property tests of the per-check cap on findings (``tkw.validation.engine.capped``).

A check that runs per Bundle entry (fullUrl, NHS number, ...) once produced one finding per entry:
200,000 for a Bundle of 200,000 empty entries, rendered into the report and, in strict mode, into
the OperationOutcome. The cap keeps reports bounded without changing what they conclude.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from tkw.validation.engine import MAX_FINDINGS_PER_CHECK, capped
from tkw.validation.findings import Finding, verdict_of

findings = st.builds(
    Finding,
    id=st.sampled_from(("message.entry.full-url", "message.patient.nhs-number", "header.x-request-id")),
    category=st.just("message"),
    severity=st.sampled_from(("error", "warning", "info")),
    passed=st.booleans(),
    message=st.just("m"),
    location=st.text(max_size=5),
)
# Many findings of few ids, so the cap is reached.
finding_lists = st.lists(findings, max_size=3 * MAX_FINDINGS_PER_CHECK + 10)


@given(finding_lists)
def test_the_cap_bounds_each_check_and_keeps_the_first_findings_in_order(found: list[Finding]) -> None:
    kept = capped(found)
    per_check = Counter((f.id, f.passed) for f in kept)
    assert all(n <= MAX_FINDINGS_PER_CHECK + 1 for n in per_check.values())
    seen: Counter[tuple[str, bool]] = Counter()
    first = []
    for f in found:
        seen[(f.id, f.passed)] += 1
        if seen[(f.id, f.passed)] <= MAX_FINDINGS_PER_CHECK:
            first.append(f)
    assert kept[: len(first)] == first, "the listed findings are the first ones, in order"
    summaries = kept[len(first) :]
    assert len(summaries) == sum(1 for n in seen.values() if n > MAX_FINDINGS_PER_CHECK)
    assert all("more" in f.message and "not listed" in f.message for f in summaries)


@given(finding_lists)
def test_the_cap_never_changes_the_verdict(found: list[Finding]) -> None:
    assert verdict_of(capped(found)) == verdict_of(found)


@given(finding_lists)
def test_short_lists_are_untouched(found: list[Finding]) -> None:
    if all(n <= MAX_FINDINGS_PER_CHECK for n in Counter((f.id, f.passed) for f in found).values()):
        assert capped(found) == found
