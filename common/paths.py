"""Where the repository is, so that default files and folders do not depend on the working
directory: the committed models, and the outputs of every job."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(REPO, 'models')
OUTPUTS_DIR = os.path.join(REPO, 'outputs')


def in_repo(*parts):
    """A path inside the repository, from its parts relative to the root."""
    return os.path.join(REPO, *parts)
