"""The score vocabulary: the seven property names, the all_scores table that holds their scores,
and leakage, how far an edit of one property moves the others."""
