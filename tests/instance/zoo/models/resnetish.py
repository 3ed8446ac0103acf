from dataclasses import dataclass

import torch.nn as nn
import torch.nn.functional as F

from .. import common as c


@dataclass
class Config:
    widths: tuple = (8, 16)
    activation: str = "silu"
    num_classes: int = 5
    scale: float = 0.5


class Unit(nn.Module):
    def __init__(self, cin, cout, stride, cfg):
        super().__init__()
        self.cfg = cfg
        self.body = c.conv3x3_block(cin, cout, stride, activation=cfg.activation)
        self.tail = c.conv3x3_block(cout, cout, activation=None)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = c.conv3x3_block(cin, cout, stride, activation=None)

    def forward(self, x):
        def scaled(y):
            return y * self.cfg.scale

        parts = {"main": self.tail(self.body(x))}
        parts["skip"] = x if self.shortcut is None else self.shortcut(x)
        out = sum(scaled(v) if k == "main" else v for k, v in parts.items())
        return F.relu(out)


class ResNetish(nn.Module):
    def __init__(self, cfg=None):
        super().__init__()
        cfg = cfg or Config()
        stages = []
        cin = 3
        for width in cfg.widths:
            units = []
            self._grow(units, cin, width, cfg)
            stages.append(nn.Sequential(*units))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(cin, cfg.num_classes)

    def _grow(self, units, cin, width, cfg):
        units.append(Unit(cin, width, 2, cfg))
        units.append(Unit(width, width, 1, cfg))

    def forward(self, x):
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        pooled = features[-1].mean(dim=(2, 3))
        return self.head(pooled)
