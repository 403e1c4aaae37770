import numpy as np
import pytest

from pipeline.blocks import GainSmoother, scratch


def test_disk_arrays_read_and_write_frame_ranges():
    with scratch() as work:
        array = work.zeros(1000)
        array[10:20] = np.ones((10, 2))
        array[15:25] += np.full((10, 2), 2.0, np.float32)
        assert array.shape == (1000, 2) and len(array) == 1000
        assert array[0:30][:, 0].tolist() == [0] * 10 + [1] * 5 + [3] * 5 + [2] * 5 + [0] * 5
        with pytest.raises(TypeError):
            array[np.arange(3)]


@pytest.mark.parametrize("block", [pytest.param(1, marks=pytest.mark.slow), 97, 4096])  # 1: a block per frame
def test_gain_smoother_is_exact_whatever_the_block_size(block):
    rng = np.random.default_rng(0)
    required = np.minimum(0.0, rng.normal(0, 3, 20_000))
    required[::500] = -20.0

    def run(size):
        smoother = GainSmoother(0.05, 0.001)
        return np.concatenate(
            [smoother.process(required[a : a + size], required[a + size :]) for a in range(0, len(required), size)]
        )

    whole = run(len(required))
    assert np.allclose(run(block), whole, atol=1e-9)
    assert np.all(whole <= required + 1e-9)  # never lets a peak through
    assert np.max(np.diff(whole)) <= 0.001 + 1e-9 and np.min(np.diff(whole)) >= -0.05 - 1e-9  # slopes bounded
