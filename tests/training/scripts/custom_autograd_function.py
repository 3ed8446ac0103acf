# A custom torch.autograd.Function with its own backward: a sign activation trained with the
# straight-through estimator (the gradient passes through where |x| <= 1).
import torch
import torch.nn as nn


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return torch.sign(input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input.abs() > 1] = 0
        return grad_input


class BinaryActivationNet(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim):
        super(BinaryActivationNet, self).__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x):
        h = SignSTE.apply(self.fc1(x))
        return self.fc2(h)


torch.manual_seed(3)
X = torch.randn(200, 8)
y = (X[:, 0] * X[:, 1] > 0).long()

model = BinaryActivationNet(8, 32, 2)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

for epoch in range(3):
    for i in range(0, 200, 40):
        inputs, targets = X[i:i + 40], y[i:i + 40]
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean().item()
    print(f'Epoch {epoch + 1}, loss {loss.item():.4f}, accuracy {acc:.3f}')

# the custom backward is the one used: zero gradient where |x| > 1, one elsewhere
x = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
SignSTE.apply(x).sum().backward()
print('STE gradient:', x.grad.tolist())
