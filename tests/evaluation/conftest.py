import pytest
from evaluation_data import classifier_outputs, metadata


@pytest.fixture
def healthy():
    y, probabilities = classifier_outputs(3000)
    return y, probabilities, metadata(3000)
