"""The bundled demo shop: a deterministic synthetic dataset served over the source contract."""

from journeyflow.demo_source.dataset import DemoDataset
from journeyflow.demo_source.server import DemoSourceServer

__all__ = ["DemoDataset", "DemoSourceServer"]
