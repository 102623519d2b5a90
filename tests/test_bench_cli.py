"""`python -m bench` (what `make bench` runs) lists the benchmarks and refuses an unknown one."""

from bench.__main__ import main


def test_bench_lists_every_runnable_benchmark(capsys):
    assert main([]) == 0
    listed = capsys.readouterr().out
    for name in (
        "ingest",
        "job_overhead",
        "live_latency",
        "replay",
        "inventory_scale",
        "event_encoding",
        "findings",
    ):
        assert f"  {name} " in listed
    assert "common" not in listed and "stack_tools" not in listed  # helpers, not benchmarks


def test_bench_refuses_an_unknown_name(capsys):
    assert main(["nope"]) == 2
    assert "no benchmark named 'nope'" in capsys.readouterr().err
