"""The scenario's [workload]: parsing (errors name the key) and the seeded job generator."""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Callable
from dataclasses import replace
from importlib import resources

import pytest

from emulator.scenario import ScenarioError, loads_toml
from emulator.workload import Arrival, JobStream, Workload, WorkloadJob, generate

GPU_NODE = (resources.files("emulator") / "presets" / "gpu-node.toml").read_text(encoding="utf-8")


def chunks(text: str) -> list[str]:
    """The TOML text cut before every table header (the first chunk holds the top-level keys)."""
    return re.split(r"(?m)^(?=\[)", text)


def header(chunk: str) -> str:
    return chunk.split("\n", 1)[0].split("#", 1)[0].strip()


def stream_chunk(text: str, kind: str) -> str:
    """The [[workload.stream]] chunk of that kind."""
    found = [c for c in chunks(text) if header(c) == "[[workload.stream]]" and f'kind = "{kind}"' in c]
    assert len(found) == 1
    return found[0]


def edit_stream(kind: str, edit: Callable[[str], str]) -> str:
    old = stream_chunk(GPU_NODE, kind)
    new = edit(old)
    assert new != old
    return GPU_NODE.replace(old, new)


def parse_error(text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        loads_toml(text)
    return str(err.value)


def stream(arrival: Arrival, **kw: object) -> JobStream:
    fields: dict[str, object] = {"kind": "k", "arrival": arrival, "work_s": (10.0, 10.0), "value": (1.0, 1.0),
                                 "output_bytes": (1000.0, 1000.0)}
    fields.update(kw)
    return JobStream(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- parsing
def test_gpu_node_workload_parses_as_written() -> None:
    w = loads_toml(GPU_NODE).workload
    assert w is not None
    assert w.seed == 11
    assert w.horizon_s == 86400.0
    assert [s.kind for s in w.streams] == ["inference", "training", "eo"]
    inf, train, eo = w.streams
    assert inf.arrival == Arrival.BURSTS and inf.count == 10 and inf.jobs_per_burst == 20 and inf.spacing_s == 15.0
    assert inf.work_s == (20.0, 60.0) and inf.value == (2.0, 4.0) and inf.deadline_s == 1200.0
    assert inf.output_bytes == (8192.0, 32768.0)
    assert train.arrival == Arrival.ONCE and train.count == 30 and train.deadline_s is None
    assert train.checkpoint_s == 300.0 and train.output_bytes == (262144.0, 262144.0) and train.priority == 2
    assert eo.arrival == Arrival.PERIODIC and eo.period_s == 5700.0 and eo.start_s == 600.0 and eo.priority == 1


def test_bad_arrival_names_its_key() -> None:
    msg = parse_error(edit_stream("inference", lambda c: c.replace('arrival = "bursts"', 'arrival = "hourly"')))
    assert "workload.stream[0].arrival" in msg
    assert "hourly" in msg


def test_work_range_upside_down_names_its_key() -> None:
    msg = parse_error(edit_stream("inference", lambda c: c.replace("work_s = [20.0, 60.0]", "work_s = [60.0, 20.0]")))
    assert "workload.stream[0].work_s" in msg


def test_unknown_stream_key_names_its_key() -> None:
    text = edit_stream("training", lambda c: c.replace('kind = "training"', 'kind = "training"\ncolour = 3'))
    msg = parse_error(text)
    assert "workload.stream[1].colour" in msg
    assert "unknown key" in msg


def test_unknown_workload_key_names_its_key() -> None:
    msg = parse_error(GPU_NODE.replace("horizon_s = 86400.0", "horizon_s = 86400.0\nhorizon_days = 1"))
    assert "workload.horizon_days" in msg


def test_periodic_without_period_names_its_key() -> None:
    msg = parse_error(edit_stream("eo", lambda c: c.replace("period_s = 5700.0\n", "")))
    assert "workload.stream[2].period_s" in msg
    assert "missing" in msg


def test_poisson_without_period_names_its_key() -> None:
    msg = parse_error(edit_stream("eo", lambda c: c.replace('"periodic"', '"poisson"').replace("period_s = 5700.0\n",
                                                                                                "")))
    assert "workload.stream[2].period_s" in msg


def test_workload_without_streams_is_refused() -> None:
    text = "".join(c for c in chunks(GPU_NODE) if header(c) != "[[workload.stream]]")
    assert "[workload]" in text
    msg = parse_error(text)
    assert "workload.stream" in msg


def test_workload_in_a_scenario_without_payload_is_refused() -> None:
    def no_payload(c: str) -> bool:
        return header(c) not in ("[payload]", "[[payload.mode]]") and 'chip = "payload_ctrl"' not in c

    text = "".join(c.replace('kind = "payload"', 'kind = "fixed"\npower_w = 10.0')
                   for c in chunks(GPU_NODE) if no_payload(c))
    msg = parse_error(text)
    assert msg.startswith("workload")
    assert "payload" in msg
    # the same scenario without its workload is fine: it is the workload that needs the payload
    sc = loads_toml("".join(c for c in chunks(text) if not header(c).startswith(("[workload]",
                                                                                  "[[workload.stream]]"))))
    assert sc.payload is None and sc.workload is None


def test_scenario_without_workload_has_none() -> None:
    text = "".join(c for c in chunks(GPU_NODE) if not header(c).startswith(("[workload]", "[[workload.stream]]")))
    assert loads_toml(text).workload is None


def test_seed_defaults_to_the_scenarios() -> None:
    w = loads_toml(GPU_NODE.replace("seed = 11\n", "")).workload
    assert w is not None
    assert w.seed == 1  # gpu-node's scenario seed


# ---------------------------------------------------------------------------- generator
@pytest.fixture(scope="module")
def gpu_workload() -> Workload:
    w = loads_toml(GPU_NODE).workload
    assert w is not None
    return w


def test_generate_is_deterministic_per_seed(gpu_workload: Workload) -> None:
    a = generate(gpu_workload)
    b = generate(gpu_workload)
    assert a == b
    c = generate(replace(gpu_workload, seed=gpu_workload.seed + 1))
    assert len(a) > 0
    assert a != c
    # the drawn parts differ (the periodic and once releases do not depend on the seed)
    assert [j.release_s for j in a if j.kind == "inference"] != [j.release_s for j in c if j.kind == "inference"]
    assert [j.work_s for j in a] != [j.work_s for j in c]


def test_gpu_node_job_counts(gpu_workload: Workload) -> None:
    jobs = generate(gpu_workload)
    kinds = [j.kind for j in jobs]
    assert kinds.count("training") == 30
    assert kinds.count("eo") == 16  # 600 + k * 5700 < 86400: k = 0..15
    assert kinds.count("inference") <= 10 * 20
    assert kinds.count("inference") >= 10 * 20 - 20  # only a burst near the horizon's end can be cut


def test_ids_count_up_in_release_order(gpu_workload: Workload) -> None:
    jobs = generate(gpu_workload)
    assert [j.job_id for j in jobs] == list(range(1, len(jobs) + 1))
    rel = [j.release_s for j in jobs]
    assert rel == sorted(rel)
    # ties (the 30 training jobs at 0 s, and whatever else shares a release) follow stream order
    order = {s.kind: k for k, s in enumerate(gpu_workload.streams)}
    for a, b in itertools.pairwise(jobs):
        if a.release_s == b.release_s:
            assert order[a.kind] <= order[b.kind]


def test_deadlines_are_release_plus_deadline(gpu_workload: Workload) -> None:
    by_kind = {s.kind: s for s in gpu_workload.streams}
    for j in generate(gpu_workload):
        d = by_kind[j.kind].deadline_s
        if d is None:
            assert j.deadline_s is None
        else:
            assert j.deadline_s == pytest.approx(j.release_s + d, abs=1e-9)


def test_drawn_values_respect_their_ranges(gpu_workload: Workload) -> None:
    by_kind = {s.kind: s for s in gpu_workload.streams}
    jobs = generate(gpu_workload)
    for j in jobs:
        s = by_kind[j.kind]
        assert s.work_s[0] <= j.work_s <= s.work_s[1]
        assert s.value[0] <= j.value <= s.value[1]
        assert s.output_bytes[0] <= j.output_bytes <= s.output_bytes[1]
        assert isinstance(j.output_bytes, int)
        assert j.priority == s.priority
        assert j.checkpoint_s == s.checkpoint_s
        assert 0 <= j.release_s < gpu_workload.horizon_s
    inference = [j.work_s for j in jobs if j.kind == "inference"]
    assert max(inference) - min(inference) > 20.0  # drawn over the range, not a constant


def test_periodic_releases_on_the_period() -> None:
    s = stream(Arrival.PERIODIC, period_s=700.0, start_s=250.0)
    jobs = generate(Workload(3, 10_000.0, (s,)))
    assert [j.release_s for j in jobs] == [250.0 + 700.0 * k for k in range(14)]  # 250 + 13 * 700 = 9350
    exact = generate(Workload(3, 7_250.0, (s,)))  # the horizon itself is left out
    assert [j.release_s for j in exact] == [250.0 + 700.0 * k for k in range(10)]


def test_periodic_release_never_reaches_the_horizon_with_decimal_period() -> None:
    s = stream(Arrival.PERIODIC, period_s=1.1, start_s=600.0)
    jobs = generate(Workload(3, 601.1, (s,)))
    assert all(j.release_s < 601.1 for j in jobs)
    assert [j.release_s for j in jobs] == [600.0]


def test_once_releases_count_jobs_at_start() -> None:
    jobs = generate(Workload(5, 1000.0, (stream(Arrival.ONCE, count=4, start_s=30.0),)))
    assert [j.release_s for j in jobs] == [30.0] * 4
    assert [j.job_id for j in jobs] == [1, 2, 3, 4]
    assert generate(Workload(5, 1000.0, (stream(Arrival.ONCE, count=4, start_s=1000.0),))) == ()


def test_bursts_have_jobs_per_burst_spacing_apart() -> None:
    s = stream(Arrival.BURSTS, count=5, jobs_per_burst=7, spacing_s=3.0)
    jobs = generate(Workload(9, 1_000_000.0, (s,)))  # a long horizon: bursts do not overlap
    rel = [j.release_s for j in jobs]
    assert len(rel) == 35
    groups: list[list[float]] = [[rel[0]]]
    for r in rel[1:]:
        if r - groups[-1][-1] <= 3.0 + 1e-6:
            groups[-1].append(r)
        else:
            groups.append([r])
    assert len(groups) == 5
    for g in groups:
        assert len(g) == 7
        assert [b - a for a, b in itertools.pairwise(g)] == pytest.approx([3.0] * 6, abs=2e-3)


def test_bursts_are_cut_at_the_horizon() -> None:
    s = stream(Arrival.BURSTS, count=6, jobs_per_burst=10, spacing_s=20.0, start_s=950.0)
    jobs = generate(Workload(4, 1000.0, (s,)))
    assert 6 <= len(jobs) <= 6 * 3  # a burst starts in [950, 1000): at most 3 jobs 20 s apart fit
    assert all(950.0 <= j.release_s < 1000.0 for j in jobs)


def test_poisson_mean_gap_is_the_period() -> None:
    period = 100.0
    jobs = generate(Workload(21, 1_000_000.0, (stream(Arrival.POISSON, period_s=period),)))
    rel = [j.release_s for j in jobs]
    gaps = [b - a for a, b in itertools.pairwise(rel)]
    # about 10 000 gaps of standard deviation 100: the mean's standard error is about 1 s
    assert len(jobs) == pytest.approx(10_000, rel=0.05)
    assert statistics.fmean(gaps) == pytest.approx(period, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(period, rel=0.1)  # exponential: sd = mean
    assert all(r < 1_000_000.0 for r in rel)


def test_streams_interleave_by_release() -> None:
    a = stream(Arrival.PERIODIC, kind="a", period_s=100.0)
    b = stream(Arrival.PERIODIC, kind="b", period_s=100.0, start_s=50.0)
    c = stream(Arrival.ONCE, kind="c", count=2, start_s=100.0, deadline_s=30.0, priority=3)
    jobs: tuple[WorkloadJob, ...] = generate(Workload(1, 300.0, (a, b, c)))
    assert [(j.kind, j.release_s) for j in jobs] == [("a", 0.0), ("b", 50.0), ("a", 100.0), ("c", 100.0),
                                                      ("c", 100.0), ("b", 150.0), ("a", 200.0), ("b", 250.0)]
    assert [j.deadline_s for j in jobs if j.kind == "c"] == [130.0, 130.0]
    assert {j.priority for j in jobs if j.kind == "c"} == {3}
