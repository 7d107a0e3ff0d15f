"""The bundled demo shop: a deterministic synthetic dataset served over the source contract."""

from journeyflow.local.demo_source.dataset import DemoDataset
from journeyflow.local.demo_source.pinned import dataset_for, pin
from journeyflow.local.demo_source.server import DemoSourceServer

__all__ = ["DemoDataset", "DemoSourceServer", "dataset_for", "pin"]
