"""Face-parsing label maps -> raw property scores (algorithm v2) -> normalised score tables."""
from segmentation.property_scores import image_at_map_size, raw_property_scores

__all__ = ['image_at_map_size', 'raw_property_scores']
