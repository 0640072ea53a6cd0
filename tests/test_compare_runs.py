"""The side-by-side picture of two runs' directions on the same faces."""
import numpy as np

from vectorfind.compare_runs import SWEEPS, comparison_figure, main, strips
from vectorfind.steering import Steering, read_tested_codes


def test_each_row_sweeps_its_own_property_over_the_test_range(tiny_vectorfind_runs):
    steering = Steering.from_run(tiny_vectorfind_runs['w'])
    _, codes = read_tested_codes(tiny_vectorfind_runs['w'], steering.code_dim)
    faces = strips(steering, codes[0])
    assert faces.shape == (3, 5, 16, 16, 3) and faces.dtype == np.uint8
    np.testing.assert_array_equal(faces[1, 0], steering.render(codes[0], mouth=SWEEPS['mouth'][0]))
    assert (SWEEPS['mouth'][0], SWEEPS['mouth'][-1]) == (-2.4, 2.4)


def test_a_figure_of_both_runs_is_written(tiny_vectorfind_runs, tmp_path):
    runs = [str(tiny_vectorfind_runs['grouped']), str(tiny_vectorfind_runs['w'])]
    figure = comparison_figure(runs, ['z', 'w'], [0])
    assert len(figure.axes) == 3 * 2
    main([*runs, '--codes', '0', '--out', str(tmp_path / 'side_by_side.png')])
    assert (tmp_path / 'side_by_side.png').stat().st_size > 0
