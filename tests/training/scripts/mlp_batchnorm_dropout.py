# An MLP with BatchNorm and Dropout, trained with AdamW, a cosine learning-rate schedule stepped
# once per epoch, and gradient-norm clipping.
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import DataLoader, TensorDataset

device = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.manual_seed(7)

X = torch.randn(300, 20)
true_w = torch.randn(20, 1)
y = X @ true_w + 0.1 * torch.randn(300, 1)
train_loader = DataLoader(TensorDataset(X[:240], y[:240]), batch_size=32, shuffle=True, drop_last=True)
val_loader = DataLoader(TensorDataset(X[240:], y[240:]), batch_size=60)


class MLP(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim, dropout=0.2):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x):
        return self.layers(x)


model = MLP(20, 64, 1).to(device)
criterion = nn.MSELoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
num_epochs = 3
scheduler = CosineAnnealingLR(optimizer, T_max=num_epochs)

for epoch in range(num_epochs):
    model.train()
    train_loss = 0.0
    for xb, yb in train_loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        train_loss += loss.item()
    scheduler.step()

    model.eval()
    val_loss = 0.0
    with torch.no_grad():
        for xb, yb in val_loader:
            xb, yb = xb.to(device), yb.to(device)
            val_loss += criterion(model(xb), yb).item()
    print(f'Epoch {epoch + 1}/{num_epochs} | train {train_loss / len(train_loader):.4f} '
          f'| val {val_loss / len(val_loader):.4f} | lr {scheduler.get_last_lr()[0]:.6f}')
