"""
The filters of a trained CNN
============================

kernelkit ships a small CNN trained on scikit-learn's 8x8 digits. Its first layer is a
``Conv2D(16, (3, 3))`` with ReLU: sixteen 3x3 filters, drawn here as a 4 x 4 grid on a red-blue
scale centred at zero, one scale for the whole layer, so the sign and size of every weight show
and the filters can be compared with each other.
"""

import kernelkit
from kernelkit.models import demo_model_path

model = kernelkit.load_model(demo_model_path())
print(model.summary())

# %%
# ``plot_filters`` takes the model (or a layer, a model file, an array of weights) and draws the
# first 2-D convolution unless ``layer=`` names another.
filters = kernelkit.plot_filters(model, layer="conv1")

# %%
# The same weights as a NumPy image, tiled the way ``torchvision.utils.make_grid`` tiles, for
# other plotting tools:
grid = kernelkit.filter_grid(model["conv1"].oihw(), ncols=4)
print(grid.shape, grid.dtype)
