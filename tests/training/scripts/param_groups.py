# Parameter groups: weight decay on the weight matrices only (not on biases or LayerNorm),
# and a ten times larger learning rate for the freshly initialised head.
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

X = torch.randn(256, 12)
y = (X[:, 0] - X[:, 1] > 0).long() + (X[:, 2] > 0.5).long()


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 32)
        self.norm = nn.LayerNorm(32)
        self.fc2 = nn.Linear(32, 32)

    def forward(self, x):
        return F.gelu(self.fc2(F.gelu(self.norm(self.fc1(x)))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Model()

decay, no_decay = [], []
for name, param in model.backbone.named_parameters():
    if not param.requires_grad:
        continue
    if param.ndim == 1 or name.endswith('.bias'):
        no_decay.append(param)  # biases and LayerNorm weights
    else:
        decay.append(param)

optimizer = torch.optim.AdamW([
    {'params': decay, 'weight_decay': 0.05},
    {'params': no_decay, 'weight_decay': 0.0},
    {'params': model.head.parameters(), 'lr': 1e-2},
], lr=1e-3, weight_decay=0.01)
criterion = nn.CrossEntropyLoss()

for epoch in range(3):
    model.train()
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = criterion(model(X[i:i + 32]), y[i:i + 32])
        loss.backward()
        optimizer.step()
    lrs = [group['lr'] for group in optimizer.param_groups]
    print(f'epoch {epoch + 1}: loss {loss.item():.4f}, group lrs {lrs}')
