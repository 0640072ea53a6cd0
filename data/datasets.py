"""Datasets over score tables (the all_scores CSV of `scores.table`)."""
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from scores.table import SCORE_COLUMNS, read_score_table

IMAGE_SIZE = 256


class ScoreTableDataset(Dataset):
    """Images of a score table with their seven scores.

    table_path: an all_scores CSV; it is checked on load (columns, NaN scores, image files).
    image_root: folder the table's img_path is relative to; by default the table's folder.
    transform: optional callable applied to the image tensor.

    Item: (image float tensor [3, 256, 256] RGB in [-1, 1], scores float tensor [7] in the order
    of `SCORE_COLUMNS`, absolute image path).
    """

    def __init__(self, table_path, image_root=None, transform=None):
        self.table = read_score_table(table_path, image_root)
        self.paths = list(self.table.abs_img_path)
        self.scores = torch.tensor(self.table.loc[:, list(SCORE_COLUMNS)].to_numpy(), dtype=torch.float32)
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        with Image.open(path) as image:
            rgb = np.asarray(image.convert('RGB'))
        if rgb.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f'{path}: expected a {IMAGE_SIZE}x{IMAGE_SIZE} image, got {rgb.shape[1]}x{rgb.shape[0]}')
        image = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 127.5 - 1.0
        if self.transform is not None:
            image = self.transform(image)
        return image, self.scores[index], path
