import torch.nn as nn

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


def get_activation_layer(activation):
    """A string, a class or a lambda, as model libraries accept."""
    if isinstance(activation, str):
        return _ACTIVATIONS[activation]()
    if isinstance(activation, type):
        return activation()
    return activation()


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, stride=1, activation="relu", use_bn=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=not use_bn)
        self.bn = nn.BatchNorm2d(cout) if use_bn else None
        self.activ = get_activation_layer(activation) if activation is not None else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.activ is not None:
            x = self.activ(x)
        return x


def conv3x3_block(cin, cout, stride=1, **kwargs):
    return ConvBlock(cin, cout, stride, **kwargs)
