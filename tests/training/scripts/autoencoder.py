# An autoencoder whose forward returns the reconstruction and its loss (the loss is computed
# inside the model, as many exercise solutions do).
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

# 8x8 "images" that live on a 4-dimensional subspace
basis = torch.randn(4, 64)
data = torch.randn(256, 4) @ basis
data = (data - data.mean()) / data.std()
loader = DataLoader(TensorDataset(data), batch_size=32, shuffle=True)


class AutoEncoder(nn.Module):
    def __init__(self, input_dim=64, latent_dim=4):
        super(AutoEncoder, self).__init__()
        self.encoder = nn.Sequential(nn.Linear(input_dim, 32), nn.ReLU(), nn.Linear(32, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, input_dim))

    def forward(self, x):
        z = self.encoder(x)
        x_hat = self.decoder(z)
        loss = F.mse_loss(x_hat, x)
        return x_hat, loss


model = AutoEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for epoch in range(3):
    model.train()
    total = 0.0
    for (batch,) in loader:
        optimizer.zero_grad()
        _, loss = model(batch)
        loss.backward()
        optimizer.step()
        total += loss.item() * batch.size(0)
    print(f'epoch {epoch + 1}: reconstruction MSE {total / len(data):.4f}')
