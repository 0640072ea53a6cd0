"""The world reader: a judge of faces that never steers.

A small CNN, trained by `python -m judge.train` on renders of the synthetic face world
(`data.face_world`), reads the world's factors back from an image: the seven that drive the
property scores and every identity factor. It measures edits from outside the methods that make
them, so nothing that fits, holds, trains or selects steering directions imports this package
(tests/test_world_reader.py checks the layout).

    from judge.reader import load_world_reader
    reader = load_world_reader('models/default/world_reader.pth')
    table = reader.read(images)        # DataFrame: one column per read factor, in world units
    features = reader.features(images) # [N, F] penultimate features (for a Frechet distance)

Modules: `factors` (the factor groups, their encodings and spreads, defined once), `views` (the
image the reader sees), `faces` (rendered training faces, cached in blocks), `reader` (the model
and its file), `train` and `evaluate` (the commands), `figures` (the judged figures of edits, their
references and tables), `report` (a finished run judged, `python -m judge.report RUN`: VectorFind
there, FineTune-v5 in `finetune_report`).
"""
