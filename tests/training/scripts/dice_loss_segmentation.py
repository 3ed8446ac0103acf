# Binary segmentation with a small fully convolutional net and a Dice loss class defined in the
# file, combined with BCE as in most segmentation exercises.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


class DiceLoss(nn.Module):
    def __init__(self, smooth=1.0):
        super(DiceLoss, self).__init__()
        self.smooth = smooth

    def forward(self, logits, targets):
        probs = torch.sigmoid(logits)
        probs = probs.view(probs.size(0), -1)
        targets = targets.view(targets.size(0), -1)
        intersection = (probs * targets).sum(dim=1)
        dice = (2. * intersection + self.smooth) / (probs.sum(dim=1) + targets.sum(dim=1) + self.smooth)
        return 1 - dice.mean()


class TinySegNet(nn.Module):
    def __init__(self):
        super(TinySegNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.out(x)


# images: noise plus a bright square; masks: where the square is
images = torch.randn(128, 1, 16, 16) * 0.5
masks = torch.zeros(128, 1, 16, 16)
for i in range(128):
    r, c = torch.randint(0, 10, (2,)).tolist()
    images[i, 0, r:r + 6, c:c + 6] += 1.5
    masks[i, 0, r:r + 6, c:c + 6] = 1.0
loader = DataLoader(TensorDataset(images, masks), batch_size=16, shuffle=True)

model = TinySegNet()
dice_loss = DiceLoss()
bce_loss = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for epoch in range(3):
    model.train()
    for x, m in loader:
        optimizer.zero_grad()
        logits = model(x)
        loss = bce_loss(logits, m) + dice_loss(logits, m)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        pred = (torch.sigmoid(model(images)) > 0.5).float()
        iou = ((pred * masks).sum() / ((pred + masks) > 0).float().sum()).item()
    print(f'epoch {epoch + 1}: loss {loss.item():.4f}, IoU {iou:.3f}')
