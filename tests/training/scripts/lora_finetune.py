# LoRA fine-tuning: the pretrained weights are frozen (requires_grad = False) and the optimizer
# only sees the low-rank adapters.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class LoRALinear(nn.Module):
    def __init__(self, in_features, out_features, rank=4, alpha=8):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.lora_A = nn.Parameter(torch.zeros(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / rank

    def forward(self, x):
        return self.linear(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling


class Classifier(nn.Module):
    def __init__(self, in_dim=16, hidden=32, num_classes=3):
        super().__init__()
        self.fc1 = LoRALinear(in_dim, hidden)
        self.fc2 = LoRALinear(hidden, num_classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


model = Classifier()

# Freeze everything except the LoRA adapters
for name, param in model.named_parameters():
    if 'lora_' not in name:
        param.requires_grad = False

trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
total = sum(p.numel() for p in model.parameters())
print(f'trainable params: {trainable} / {total} ({100 * trainable / total:.1f}%)')

optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=5e-3)
loss_fn = nn.CrossEntropyLoss()

# Fine-tuning data for the new task
X = torch.randn(192, 16)
y = torch.argmax(X[:, :3], dim=1)

frozen_before = model.fc1.linear.weight.clone()
batch_size = 32
for epoch in range(3):
    model.train()
    epoch_loss = 0.0
    for i in range(0, len(X), batch_size):
        xb, yb = X[i:i + batch_size], y[i:i + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item()
    print(f'epoch {epoch + 1}: loss = {epoch_loss / (len(X) // batch_size):.4f}')

assert torch.equal(frozen_before, model.fc1.linear.weight), 'frozen weights changed'
