"""The 7-output Property Score CNN and batched scoring."""
from property_score_cnn.model import (BRANCH, BRANCHES, IMAGE_SIZE, Branch, PropertyScoreCNN,
                                      ScoreCNN, load_property_score_cnn, save_property_score_cnn,
                                      score_images)

__all__ = ['BRANCH', 'BRANCHES', 'IMAGE_SIZE', 'Branch', 'PropertyScoreCNN',
           'ScoreCNN', 'load_property_score_cnn', 'save_property_score_cnn', 'score_images']
