"""What the benchmark scripts share: elapsed time by the device's clock."""
import time
import torch

class Clock:
    "Elapsed seconds by the device's clock: CUDA events on a GPU (no host wait until `stop`), perf_counter on the CPU."
    def __init__(self, cuda:bool): self.cuda = cuda
    def start(self):
        if self.cuda: self.e0, self.e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True); self.e0.record()
        else: self.t0 = time.perf_counter()
    def stop(self) -> float:
        if self.cuda: self.e1.record(); self.e1.synchronize(); return self.e0.elapsed_time(self.e1) / 1000
        return time.perf_counter() - self.t0
