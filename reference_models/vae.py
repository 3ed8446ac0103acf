"""A convolutional variational autoencoder (Kingma & Welling 2014): strided-conv encoder to a mean and
log-variance, the reparameterisation `z = mu + eps * std` while training (the mean in eval), and a
transposed-conv decoder with a sigmoid output."""

import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, in_channels=1, width=32, latent_dim=16, image_size=28):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        feature = image_size // 4
        self.fc_mu = nn.Linear(2 * width * feature * feature, latent_dim)
        self.fc_logvar = nn.Linear(2 * width * feature * feature, latent_dim)
        self.fc_decode = nn.Linear(latent_dim, 2 * width * feature * feature)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (2 * width, feature, feature)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, in_channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        if self.training:
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std
        return mu

    def decode(self, z):
        return self.decoder(self.fc_decode(z))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar
