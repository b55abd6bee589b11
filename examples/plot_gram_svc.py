"""
An SVM on a kernelkit Gram matrix
=================================

scikit-learn's ``SVC(kernel="precomputed")`` trains on any Gram matrix. Here kernelkit's
``rbf_kernel`` computes it for two interleaved half-moons; the picture shows the decision
function over the plane, computed from the Gram matrix of the grid points against the training
points, and the matrix itself agrees with scikit-learn's.
"""

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from sklearn.metrics.pairwise import rbf_kernel as sklearn_rbf
from sklearn.svm import SVC

import kernelkit

X, y = make_moons(n_samples=400, noise=0.15, random_state=0)
gamma = 2.0
K = kernelkit.rbf_kernel(X, gamma=gamma)
print("max |kernelkit - scikit-learn| =", np.abs(K - sklearn_rbf(X, gamma=gamma)).max())

svm = SVC(kernel="precomputed", C=1.0).fit(K, y)
print("training accuracy:", svm.score(K, y))

# %%
# The decision function at new points needs their kernel against the training points:
# ``rbf_kernel(grid, X)``, one row per grid point.
xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 160))
grid = np.column_stack([xx.ravel(), yy.ravel()])
decision = svm.decision_function(kernelkit.rbf_kernel(grid, X, gamma=gamma)).reshape(xx.shape)

figure = Figure(figsize=(6.4, 4.2), layout="constrained")
ax = figure.add_subplot()
ax.contourf(xx, yy, decision, levels=20, cmap="RdBu_r", alpha=0.8)
ax.contour(xx, yy, decision, levels=[0.0], colors="k")
ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 1, "tab:red", "tab:blue"), edgecolors="white", s=18)
ax.set_title("SVC on kernelkit.rbf_kernel: decision function, boundary in black", fontsize=10)
