# Two-moons-like classification with SGD (momentum + weight decay) and a StepLR schedule.
import math

import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

torch.manual_seed(0)

n = 200
angles = torch.rand(n) * math.pi
upper = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
lower = torch.stack([1 - torch.cos(angles), 0.5 - torch.sin(angles)], dim=1)
X = torch.cat([upper, lower]) + 0.1 * torch.randn(2 * n, 2)
y = torch.cat([torch.zeros(n), torch.ones(n)]).long()


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(2, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 2)

    def forward(self, x):
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
scheduler = StepLR(optimizer, step_size=2, gamma=0.1)

batch_size = 50
for epoch in range(4):
    model.train()
    permutation = torch.randperm(X.size(0))
    for i in range(0, X.size(0), batch_size):
        indices = permutation[i:i + batch_size]
        batch_x, batch_y = X[indices], y[indices]

        optimizer.zero_grad()
        output = model(batch_x)
        loss = criterion(output, batch_y)
        loss.backward()
        optimizer.step()
    scheduler.step()

    model.eval()
    with torch.no_grad():
        accuracy = (model(X).argmax(dim=1) == y).float().mean()
    print(f"epoch {epoch}: loss={loss.item():.4f} acc={accuracy.item():.3f} "
          f"lr={optimizer.param_groups[0]['lr']}")
