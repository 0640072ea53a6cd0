"""The base generator of the face world: its training from scratch and its evaluation."""
