"""
Feature maps of a digit
=======================

What the shipped CNN's layers make of a test digit it never saw in training: the sixteen maps
of ``conv1`` (after bias and ReLU), then the thirty-two of ``conv2``, which sees ``conv1``'s
output and is computed through the network.
"""

import kernelkit
from kernelkit.models import demo_digits, demo_model_path

model = kernelkit.load_model(demo_model_path())
digits = demo_digits()
digit = digits.images[digits.is_test][0]
print("the digit is a", digits.labels[digits.is_test][0])

conv1_maps = kernelkit.plot_feature_maps(model, digit, layer="conv1")

# %%
# Deeper layers run the network up to them: ``model.run(x, until=...)`` gives the same maps as
# an array.
conv2_maps = kernelkit.plot_feature_maps(model, digit, layer="conv2")
print(model.run(digit[:, :, None], until="conv2").shape)
