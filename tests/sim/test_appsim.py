"""The merge check the appliance tests rely on."""

from espline.sim.appsim import interleaves


def test_interleaves_keeps_each_source_in_order():
    assert interleaves([1, 2, 3], [1, 3], [2])
    assert interleaves([2, 1, 3], [1, 3], [2])
    assert interleaves([1, 1, 2], [1, 2], [1])
    assert interleaves([])
    assert not interleaves([3, 1, 2], [1, 3], [2])  # 3 before 1: out of order
    assert not interleaves([1, 2], [1, 2], [2])  # a frame missing
    assert not interleaves([1], [])  # an extra frame
