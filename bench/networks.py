"""The convolution layers of ResNet-18 and MobileNetV2 at a 224 x 224 input, as published.

ResNet-18: He et al., "Deep Residual Learning for Image Recognition" (2015), table 1, with the
1x1 stride-2 projection shortcuts of torchvision's implementation. MobileNetV2: Sandler et al.,
"MobileNetV2: Inverted Residuals and Linear Bottlenecks" (2018), table 2 (expansion t, channels
c, repeats n, first stride s), each block a 1x1 expansion (absent for t = 1), a 3x3 depthwise
convolution and a 1x1 projection.

Each entry is one distinct layer shape and how often the network runs it, so the network's sum is
sum(count x time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """One conv layer: cin -> cout, k x k kernel, stride, padding, square input hw x hw."""

    name: str
    cin: int
    cout: int
    k: int
    stride: int
    pad: int
    hw: int
    groups: int = 1
    count: int = 1

    @property
    def out_hw(self) -> int:
        return (self.hw + 2 * self.pad - self.k) // self.stride + 1

    def flops(self, batch: int) -> int:
        return 2 * batch * self.out_hw**2 * self.cout * (self.cin // self.groups) * self.k**2


def resnet18() -> list[Layer]:
    layers = [
        Layer("conv1", 3, 64, 7, 2, 3, 224),
        Layer("layer1 3x3", 64, 64, 3, 1, 1, 56, count=4),
    ]
    hw, cin = 56, 64
    for stage, cout in ((2, 128), (3, 256), (4, 512)):
        layers += [
            Layer(f"layer{stage} 3x3 s2", cin, cout, 3, 2, 1, hw),
            Layer(f"layer{stage} 1x1 s2", cin, cout, 1, 2, 0, hw),
            Layer(f"layer{stage} 3x3", cout, cout, 3, 1, 1, hw // 2, count=3),
        ]
        hw, cin = hw // 2, cout
    return layers


# (expansion t, output channels c, repeats n, stride of the first repeat s)
_MOBILENET_V2_BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2() -> list[Layer]:
    counts: dict[Layer, int] = {}

    def add(layer: Layer) -> None:
        counts[layer] = counts.get(layer, 0) + 1

    add(Layer("stem 3x3 s2", 3, 32, 3, 2, 1, 224))
    hw, cin = 112, 32
    for t, c, n, s in _MOBILENET_V2_BLOCKS:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            if t != 1:
                add(Layer(f"expand {cin}->{hidden}", cin, hidden, 1, 1, 0, hw))
            add(Layer(f"dw {hidden} s{stride}", hidden, hidden, 3, stride, 1, hw, groups=hidden))
            hw = (hw + 2 - 3) // stride + 1
            add(Layer(f"project {hidden}->{c}", hidden, c, 1, 1, 0, hw))
            cin = c
    add(Layer(f"head {cin}->1280", cin, 1280, 1, 1, 0, hw))
    return [Layer(**{**layer.__dict__, "count": count}) for layer, count in counts.items()]


NETWORKS = {"resnet18": resnet18, "mobilenetv2": mobilenet_v2}
