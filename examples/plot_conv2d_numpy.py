"""
conv2d against NumPy
====================

``kernelkit.conv2d`` computes what the textbook sum over windows computes. Here a batch of
images goes through random 3x3 filters with ``padding="same"``, once with kernelkit and once
with NumPy (``sliding_window_view`` and ``einsum`` in float64), and the picture shows one input,
one output channel and their difference.
"""

import numpy as np
from matplotlib.figure import Figure

import kernelkit

rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:64, 0:64] / 64.0
image = np.sin(8 * xx) * np.cos(5 * yy) + 0.2 * rng.standard_normal((64, 64))
x = np.stack([image, image.T, image[::-1]])[None].astype(np.float32)  # (1, 3, 64, 64), NCHW
w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)  # OIHW

ours = kernelkit.conv2d(x, w, padding="same")

padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
reference = np.einsum("nchwij,ocij->nohw", windows, w.astype(np.float64))
print("max |kernelkit - NumPy float64| =", np.abs(ours - reference).max())

# %%
# The difference is float32 rounding: about 1e-6 against outputs of a few units.
figure = Figure(figsize=(9, 3.2), layout="constrained")
panels = [
    (x[0, 0], "input channel 0"),
    (ours[0, 0], "kernelkit output channel 0"),
    (ours[0, 0] - reference[0, 0], "kernelkit - NumPy"),
]
for ax, (values, title) in zip(figure.subplots(1, 3), panels):
    shown = ax.imshow(values, cmap="viridis")
    figure.colorbar(shown, ax=ax, shrink=0.8)
    ax.set_title(title)
    ax.set_axis_off()
