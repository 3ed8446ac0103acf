"""VGG-11 with batch norm (Simonyan & Zisserman 2015, configuration A), written out layer by layer."""

import torch
import torch.nn as nn


class VGG11BN(nn.Module):
    def __init__(self, num_classes=10, width=64, image_size=32, hidden=512, dropout=0.5):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, kernel_size=3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(w, 2 * w, kernel_size=3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(2 * w, 4 * w, kernel_size=3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(inplace=True),
            nn.Conv2d(4 * w, 4 * w, kernel_size=3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(4 * w, 8 * w, kernel_size=3, padding=1), nn.BatchNorm2d(8 * w), nn.ReLU(inplace=True),
            nn.Conv2d(8 * w, 8 * w, kernel_size=3, padding=1), nn.BatchNorm2d(8 * w), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(8 * w, 8 * w, kernel_size=3, padding=1), nn.BatchNorm2d(8 * w), nn.ReLU(inplace=True),
            nn.Conv2d(8 * w, 8 * w, kernel_size=3, padding=1), nn.BatchNorm2d(8 * w), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(8 * w, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)
