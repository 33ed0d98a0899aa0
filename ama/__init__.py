__version__ = "0.1.0"

# What users import: `from ama import AMALoss` (it needs torch alone; no extra is imported). Loaded on first use, so
# that `import ama.core` and the other light modules stay light (PEP 562).
__all__ = ['AMALoss']

def __getattr__(name):
    if name == 'AMALoss':
        from .loss import AMALoss
        return AMALoss
    raise AttributeError(f"module 'ama' has no attribute {name!r}")

def __dir__(): return sorted([*globals(), *__all__])
