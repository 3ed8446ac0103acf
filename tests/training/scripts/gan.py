# A GAN on 1-D data: two models, two optimizers, and detach() so the discriminator step
# does not backpropagate into the generator.
import torch
import torch.nn as nn
import torch.optim as optim

torch.manual_seed(0)

latent_dim = 4
batch_size = 32
real_data = torch.randn(256, 1) * 0.5 + 2.0  # samples from N(2, 0.5^2)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 16),
            nn.ReLU(),
            nn.Linear(16, 1),
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(1, 16),
            nn.LeakyReLU(0.2),
            nn.Linear(16, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.net(x)


G = Generator()
D = Discriminator()
criterion = nn.BCELoss()
optimizer_G = optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
optimizer_D = optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))

num_epochs = 3
for epoch in range(num_epochs):
    perm = torch.randperm(real_data.size(0))
    for i in range(0, real_data.size(0), batch_size):
        real = real_data[perm[i:i + batch_size]]
        real_labels = torch.ones(real.size(0), 1)
        fake_labels = torch.zeros(real.size(0), 1)

        # Train the discriminator
        z = torch.randn(real.size(0), latent_dim)
        fake = G(z)
        d_loss_real = criterion(D(real), real_labels)
        d_loss_fake = criterion(D(fake.detach()), fake_labels)
        d_loss = d_loss_real + d_loss_fake
        optimizer_D.zero_grad()
        d_loss.backward()
        optimizer_D.step()

        # Train the generator
        g_loss = criterion(D(fake), real_labels)
        optimizer_G.zero_grad()
        g_loss.backward()
        optimizer_G.step()

    print(f'Epoch [{epoch + 1}/{num_epochs}]  D loss: {d_loss.item():.4f}  G loss: {g_loss.item():.4f}')

with torch.no_grad():
    samples = G(torch.randn(1000, latent_dim))
print(f'Generated mean {samples.mean().item():.3f}, std {samples.std().item():.3f}')
