"""A deterministic PI Web API simulator: the embedded server for local runs and the ground truth for
tests and benchmarks."""

from .model import Archive
from .server import SimulatorServer

__all__ = ["Archive", "SimulatorServer"]
