"""The interval arithmetic, against values computed by hand."""

import math

import pytest

from rlmbench.report.stats import difference_interval, mean_interval, pass_hat_k, wilson_interval


def test_t_interval_of_three_runs():
    # mean 8.3, sd 1.3, n 3: t(0.975, 2) = 4.302653; half width 4.302653 * 1.3 / sqrt(3) = 3.2294
    interval = mean_interval([7.0, 8.3, 9.6])
    assert interval.mean == pytest.approx(8.3)
    assert interval.low == pytest.approx(8.3 - 3.22940, abs=1e-4) and interval.high == pytest.approx(11.52940, abs=1e-4)


def test_an_interval_of_a_quantity_that_cannot_be_negative_is_clipped_at_zero():
    # mean 0.29, sd 0.0849, n 2: t(0.975, 1) = 12.706; half 0.7627 -> [-0.47, 1.05], clipped to [0, 1.05]
    clipped, raw = mean_interval([0.23, 0.35]), mean_interval([0.23, 0.35], floor=None)
    assert raw.low == pytest.approx(-0.4727, abs=1e-3) and clipped.low == 0.0
    assert clipped.high == raw.high == pytest.approx(1.0527, abs=1e-3)


def test_one_run_has_no_interval_and_no_runs_no_mean():
    single = mean_interval([4.2])
    assert single.mean == 4.2 and single.low is None and not single.has_interval
    assert mean_interval([]) is None


def test_wilson_interval_at_the_edges_and_in_the_middle():
    # 3/3: centre (1 + 1.9208/3) / (1 + 3.8415/3) = 0.71936; half 0.27917 -> [0.4385, 1.0]
    low, high = wilson_interval(3, 3)
    assert low == pytest.approx(0.43850, abs=1e-4) and high == 1.0
    low, high = wilson_interval(0, 3)
    assert low == 0.0 and high == pytest.approx(0.56150, abs=1e-4)
    low, high = wilson_interval(5, 10)  # symmetric about 0.5: [0.2366, 0.7634]
    assert low == pytest.approx(0.23659, abs=1e-4) and high == pytest.approx(0.76341, abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_pass_hat_k_is_tau_benchs_ratio():
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(2, 3, 1) == pytest.approx(2 / 3)
    assert pass_hat_k(2, 3, 2) == pytest.approx(1 / 3)  # C(2,2)/C(3,2)
    assert pass_hat_k(2, 3, 3) == 0.0
    assert pass_hat_k(4, 5, 2) == pytest.approx(6 / 10)
    with pytest.raises(ValueError):
        pass_hat_k(1, 3, 4)


def test_welch_difference_of_two_arms():
    # a: mean 2, var 1 (n 3); b: mean 1, var 0.25 (n 3). se = sqrt(1/3 + 0.25/3) = 0.645497;
    # df = (0.416667^2) / ((1/3)^2/2 + (0.25/3)^2/2) = 2.941176; t(0.975, 2.941) = 3.2188, between the
    # table's t(0.975, 3) = 3.1824 and t(0.975, 2) = 4.3027
    diff = difference_interval([1.0, 2.0, 3.0], [0.5, 1.0, 1.5])
    assert diff.mean == pytest.approx(1.0)
    half = diff.high - diff.mean
    assert 0.645497 * 3.1824 < half < 0.645497 * 4.3027
    assert half == pytest.approx(0.645497 * 3.2188, rel=1e-4)
    assert difference_interval([1.0], [2.0, 3.0]).low is None
    assert math.isclose(difference_interval([1.0, 1.0], [1.0, 1.0]).mean, 0.0)
