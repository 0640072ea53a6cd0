"""The tiny models of the VectorFind tests: a 16 px v1 generator, a narrow random Property Score
CNN, and a CNN-derived table made by scoring that generator's own faces, so that the median split
gives every group members."""
import torch

from scores.properties import PROPERTY_NAMES
from property_score_cnn import PropertyScoreCNN, save_property_score_cnn
from random_world import write_random_world
from scores.table import all_scores_table, write_score_table
from stylegan import Generator, convert_v1_to_v6, architecture, save_generator
from vectorfind.latents import draw_codes, render_and_score


def write_tiny_models(root, table_rows):
    """generator.pth, cnn.pth and all_scores_v2_cnn.csv (`table_rows` faces) in `root`."""
    torch.manual_seed(0)
    generator = Generator(architecture('tiny')).eval()
    save_generator(generator, root / 'generator.pth')
    cnn = PropertyScoreCNN(width=0.125).eval()
    save_property_score_cnn(cnn, root / 'cnn.pth')
    codes = draw_codes(table_rows, 515, seed=99, purpose=0, block=0)
    scores = render_and_score(convert_v1_to_v6(generator), cnn, codes, 'cpu', table_rows)
    table = all_scores_table(range(table_rows), [f'{i}.png' for i in range(table_rows)],
                             dict(zip(PROPERTY_NAMES, scores.T)))
    write_score_table(table, root / 'all_scores_v2_cnn.csv')
    return root


def write_finetune_inputs(root):
    """24 random 256 px images with random scores (scores.csv), a tiny base generator (base.pth)
    and a narrow random Property Score CNN (cnn.pth) in `root`: FineTune-v5's inputs."""
    write_random_world(root, size=256, table_name='scores.csv')
    torch.manual_seed(0)
    save_generator(Generator(architecture('tiny')), root / 'base.pth')
    save_property_score_cnn(PropertyScoreCNN(width=0.125), root / 'cnn.pth')
    return root
