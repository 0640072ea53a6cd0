"""The measured properties of a face, named once for the whole repository.

`PROPERTY_NAMES` are the seven scores in the order of the all_scores table's columns and of the
Property Score CNN's outputs (SPEC); `CORE_PROPERTIES` are the three that the jobs steer.
"""
PROPERTY_NAMES = ('eyes', 'hair_color', 'hair_length', 'mouth', 'pose', 'background_mean',
                  'background_std')
CORE_PROPERTIES = ('eyes', 'mouth', 'pose')
# Where the core properties stand among the seven scores.
CORE_COLUMNS = [PROPERTY_NAMES.index(name) for name in CORE_PROPERTIES]
