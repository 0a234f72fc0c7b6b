"""The built-in simulated device (phone or desktop), the default platform."""
from controllers.sim.controller import SimController
from controllers.sim.device import SimDevice
from controllers.sim.style import Split

__all__ = ["SimController", "SimDevice", "Split"]
