"""Models with weight normalisation and parametrizations (rule L060; the built model's parametrizations)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrizations, parametrize, weight_norm


class Chomp1d(nn.Module):
    def __init__(self, chomp_size):
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    """The temporal convolution network's block (locuslab/TCN): two weight-normed causal convolutions."""

    def __init__(self, n_inputs=3, n_outputs=6, kernel_size=3, stride=1, dilation=2, padding=4, dropout=0.2):
        super().__init__()
        self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=padding,
                                           dilation=dilation))
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, padding=padding,
                                           dilation=dilation))
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.dropout1(self.relu1(self.chomp1(self.conv1(x))))
        out = self.dropout2(self.relu2(self.chomp2(self.conv2(out))))
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs=3, num_channels=(4, 6, 6), kernel_size=3, dropout=0.2):
        super().__init__()
        layers = []
        for i in range(len(num_channels)):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            layers += [TemporalBlock(in_channels, num_channels[i], kernel_size, stride=1, dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size, dropout=dropout)]
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class NewApi(nn.Module):
    """torch.nn.utils.parametrizations.weight_norm: g and v are parametrizations.weight.original0/1."""

    def __init__(self):
        super().__init__()
        self.conv = parametrizations.weight_norm(nn.Conv2d(2, 3, 3, padding=1), dim=1)
        self.fc = nn.utils.parametrizations.weight_norm(nn.Linear(4, 5), dim=None)
        self.up = torch.nn.utils.weight_norm(nn.ConvTranspose1d(5, 2, 2, stride=2))

    def forward(self, x):
        h = self.fc(self.conv(x))  # (N, 3, H, 5)
        return self.up(h.flatten(1, 2).transpose(1, 2))


class L2Norm(nn.Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, t):
        return F.normalize(t, dim=self.dim, p=2)


class Scaled(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, 1, 1), 2.0))

    def forward(self, t):
        return t * self.scale


class NormLinear(nn.Module):
    """vit-pytorch's normalized_vit: an L2Norm parametrization of a Linear's weight."""

    def __init__(self, dim, dim_out, norm_dim_in=True):
        super().__init__()
        self.linear = nn.Linear(dim, dim_out, bias=False)
        parametrize.register_parametrization(self.linear, "weight", L2Norm(dim=-1 if norm_dim_in else 0))

    @property
    def weight(self):
        return self.linear.weight

    def forward(self, x):
        return self.linear(x)


class Parametrized(nn.Module):
    """Parametrizations of the user's: NormLinear's, and a chain of two (one with a parameter) on a Conv1d."""

    def __init__(self):
        super().__init__()
        self.a = NormLinear(6, 8)
        self.b = NormLinear(8, 4, norm_dim_in=False)
        self.conv = nn.Conv1d(4, 5, 3, padding=1)
        parametrize.register_parametrization(self.conv, "weight", L2Norm(dim=1))
        parametrize.register_parametrization(self.conv, "weight", Scaled(5))

    def forward(self, x):
        h = self.b(torch.relu(self.a(x)))
        return self.conv(h.transpose(1, 2))
