"""A short chaos soak (tests/soak/soak.py) as part of the e2e suite:
a fixed seed, a dozen cuts, pastes up to 256 KiB and blackholes up to
10 s, about two minutes.  `make soak` runs the long one."""

import os
import sys

import pytest

import netcase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "soak"))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import netlab  # noqa: E402
import soak  # noqa: E402


@pytest.mark.timeout(400)
def test_soak_short(limpet_bin):
    """Twelve faults of every kind while data flows both ways: both
    streams arrive whole and exactly once, nothing leaks or spins."""
    why = netlab.unavailable()
    if why:
        netcase.missing(why)
    p = soak.Params(cuts=12, seed=20261129, max_paste=256 * 1024,
                    min_paste=1, max_blackhole=10, out_rate=16384,
                    bin=limpet_bin)
    findings, text = soak.soak(p)
    print(text)
    assert not findings, text
