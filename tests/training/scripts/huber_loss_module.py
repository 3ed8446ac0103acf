# Robust regression with a Huber loss written as an nn.Module in the file (then checked
# against torch's own nn.HuberLoss).
import torch
import torch.nn as nn


class HuberLoss(nn.Module):
    def __init__(self, delta=1.0):
        super(HuberLoss, self).__init__()
        self.delta = delta

    def forward(self, y_pred, y_true):
        error = y_true - y_pred
        abs_error = torch.abs(error)
        quadratic = torch.clamp(abs_error, max=self.delta)
        linear = abs_error - quadratic
        loss = 0.5 * quadratic ** 2 + self.delta * linear
        return loss.mean()


class Regressor(nn.Module):
    def __init__(self):
        super(Regressor, self).__init__()
        self.fc1 = nn.Linear(3, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


torch.manual_seed(0)
X = torch.randn(200, 3)
y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(200, 1)
y[::20] += 15.0  # outliers

model = Regressor()
criterion = HuberLoss(delta=1.0)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

for epoch in range(3):
    for i in range(0, 200, 25):
        optimizer.zero_grad()
        loss = criterion(model(X[i:i + 25]), y[i:i + 25])
        loss.backward()
        optimizer.step()
    print(f'epoch {epoch + 1}: huber loss {loss.item():.4f}')

with torch.no_grad():
    ours, reference = criterion(model(X), y), nn.HuberLoss(delta=1.0)(model(X), y)
print(f'custom {ours.item():.6f} vs nn.HuberLoss {reference.item():.6f}')
assert torch.allclose(ours, reference)
