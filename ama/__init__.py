__version__ = "0.1.0"

# What users import: `from ama import AMALoss`. It needs torch alone (the experiments' extras stay unimported).
from .loss import AMALoss
