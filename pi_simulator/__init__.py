"""A deterministic PI Web API simulator: the embedded server for local runs and the ground truth for
tests and benchmarks."""

from .faults import FaultPlan
from .model import Archive, ArchiveChanges
from .server import SimulatorServer

__all__ = ["Archive", "ArchiveChanges", "FaultPlan", "SimulatorServer"]
