"""Loading: the data contract, strict validation in polars, load reports, synthetic data."""

from graphsona.loaders.contract import FORMATS, TABLES
from graphsona.loaders.dataset import Dataset, LoadReport
from graphsona.loaders.synthetic import SyntheticConfig, SyntheticNetwork, generate, write_dataset
from graphsona.loaders.validate import LoadOptions, load_dataset, load_delta, load_frames

__all__ = [
    "FORMATS",
    "TABLES",
    "Dataset",
    "LoadOptions",
    "LoadReport",
    "SyntheticConfig",
    "SyntheticNetwork",
    "generate",
    "load_dataset",
    "load_delta",
    "load_frames",
    "write_dataset",
]
