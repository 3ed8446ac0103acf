# Logistic regression on imbalanced labels: BCEWithLogitsLoss with pos_weight = #neg / #pos.
import torch
import torch.nn as nn

torch.manual_seed(0)

n_samples, n_features = 400, 5
X = torch.randn(n_samples, n_features)
true_w = torch.tensor([1.5, -2.0, 0.5, 0.0, 1.0])
logits = X @ true_w - 2.5
y = (torch.rand(n_samples) < torch.sigmoid(logits)).float().unsqueeze(1)

num_pos = y.sum()
num_neg = len(y) - num_pos
pos_weight = torch.tensor([num_neg / num_pos])
print(f'positives: {int(num_pos)}, negatives: {int(num_neg)}, pos_weight: {pos_weight.item():.2f}')


class LogisticRegression(nn.Module):
    def __init__(self, n_features):
        super(LogisticRegression, self).__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x)  # raw logits: the loss applies the sigmoid


model = LogisticRegression(n_features)
criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for epoch in range(50):
    model.train()
    optimizer.zero_grad()
    outputs = model(X)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    if (epoch + 1) % 10 == 0:
        print(f'epoch {epoch + 1}: loss {loss.item():.4f}')

model.eval()
with torch.no_grad():
    predicted = (torch.sigmoid(model(X)) > 0.5).float()
    tp = ((predicted == 1) & (y == 1)).sum().item()
    precision = tp / max(predicted.sum().item(), 1)
    recall = tp / y.sum().item()
    accuracy = (predicted == y).float().mean().item()
print(f'accuracy {accuracy:.3f}, precision {precision:.3f}, recall {recall:.3f}')
