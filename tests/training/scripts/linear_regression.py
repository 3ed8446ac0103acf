# Linear regression with PyTorch: fit y = 2x + 3 on noisy data made at the top level.
import torch
import torch.nn as nn
import torch.optim as optim

torch.manual_seed(42)

# Generate synthetic data
X = torch.rand(100, 1) * 10
y = 2 * X + 3 + torch.randn(100, 1)


class LinearRegressionModel(nn.Module):
    def __init__(self):
        super(LinearRegressionModel, self).__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


model = LinearRegressionModel()
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)

num_epochs = 100
for epoch in range(num_epochs):
    model.train()
    outputs = model(X)
    loss = criterion(outputs, y)

    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    if (epoch + 1) % 10 == 0:
        print(f'Epoch [{epoch+1}/{num_epochs}], Loss: {loss.item():.4f}')

[w, b] = model.linear.parameters()
print(f'Learned weight: {w.item():.4f}, bias: {b.item():.4f}')
