"""tkw: the TKW (Toolkit Workbench) emulator's domain package, shipped as a Lambda layer.

Everything here is plain Python and pydantic: no AWS calls outside ``tkw.adapters``.
"""

BASE_PATH = "/booking-and-referral/FHIR/R4"
__version__ = "0.1.0"
