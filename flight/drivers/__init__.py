"""Flight drivers for the I2C chips: one module per chip, each speaking the real
register map through any `flight.interfaces.Bus` and returning engineering units.

Shared behaviour (retries, health, re-probe) lives in `flight.drivers.base`.
"""

from flight.drivers.base import (
    Device,
    DeviceFailedError,
    DeviceIdError,
    DeviceIoError,
    DeviceStats,
    DriverError,
    Health,
)
from flight.drivers.ina226 import Ina226, Ina226Config, Ina226Reading
from flight.drivers.max17048 import Max17048, Max17048Reading
from flight.drivers.payload_ctrl import JobCommand, PayloadCtrl, PayloadStatus, PayloadTelemetry
from flight.drivers.tca9534 import Tca9534
from flight.drivers.tmp117 import Tmp117, Tmp117Config, Tmp117Status

__all__ = [
    "Device",
    "DeviceFailedError",
    "DeviceIdError",
    "DeviceIoError",
    "DeviceStats",
    "DriverError",
    "Health",
    "Ina226",
    "Ina226Config",
    "Ina226Reading",
    "JobCommand",
    "Max17048",
    "Max17048Reading",
    "PayloadCtrl",
    "PayloadStatus",
    "PayloadTelemetry",
    "Tca9534",
    "Tmp117",
    "Tmp117Config",
    "Tmp117Status",
]
