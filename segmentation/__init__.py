"""Face-parsing label maps -> raw property scores (algorithm v2) -> normalised score tables."""
from segmentation.property_scores import SCORE_NAMES, raw_property_scores

__all__ = ['SCORE_NAMES', 'raw_property_scores']
