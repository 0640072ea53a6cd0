"""The image the world reader sees: a world render brought to the generator's resolution exactly
as the generator's training images were (PIL's box filter, `base_training.train`), and a batch in
the generator's convention (float NCHW in [-1, 1])."""
import numpy as np
import torch
from PIL import Image

from property_score_cnn.model import as_model_input


def world_view(image, resolution):
    """A uint8 RGB render [H, W, 3] at `resolution` x `resolution`, box-filtered (the average of
    the source pixels each target pixel covers), as the generator learnt to draw it."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f'expected a uint8 RGB image [H, W, 3], got {image.dtype} of shape'
                         f' {list(image.shape)}')
    if image.shape[:2] == (resolution, resolution):
        return image
    return np.asarray(Image.fromarray(image).resize((resolution, resolution), Image.BOX))


def reader_input(images, resolution):
    """A float NCHW batch in [-1, 1] at `resolution` from generator output (float NCHW in [-1, 1])
    or uint8 RGB images [N, H, W, 3]; other sizes are refused, so that nothing is read through a
    resampling the reader never saw."""
    batch = as_model_input(images)
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f'expected images as a float batch [N, 3, H, W] in [-1, 1] or uint8'
                         f' [N, H, W, 3], got shape {list(batch.shape)}')
    if tuple(batch.shape[-2:]) != (resolution, resolution):
        raise ValueError(f'the world reader reads {resolution}x{resolution} images, got'
                         f' {batch.shape[-2]}x{batch.shape[-1]}; bring world renders there with'
                         f' judge.views.world_view')
    return batch.contiguous(memory_format=torch.channels_last)
