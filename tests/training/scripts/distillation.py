# Knowledge distillation: a small student learns from a larger teacher's softened logits
# (KL divergence at temperature T) plus the usual cross-entropy on the labels.
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

X = torch.randn(256, 10)
y = (X[:, :2].sum(dim=1) > 0).long() + (X[:, 2] > 1).long()  # 3 classes
loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)


class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 3)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def distillation_loss(student_logits, teacher_logits, labels, T=2.0, alpha=0.7):
    soft_targets = F.softmax(teacher_logits / T, dim=1)
    soft_prob = F.log_softmax(student_logits / T, dim=1)
    kd_loss = nn.KLDivLoss(reduction='batchmean')(soft_prob, soft_targets) * (T * T)
    ce_loss = F.cross_entropy(student_logits, labels)
    return alpha * kd_loss + (1 - alpha) * ce_loss


# 1. train the teacher briefly
teacher = Teacher()
opt_t = torch.optim.Adam(teacher.parameters(), lr=1e-2)
for epoch in range(2):
    for xb, yb in loader:
        opt_t.zero_grad()
        loss = F.cross_entropy(teacher(xb), yb)
        loss.backward()
        opt_t.step()
    print(f'teacher epoch {epoch + 1}: loss {loss.item():.4f}')

# 2. distil into the student; the teacher stays frozen in eval mode
student = Student()
optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
teacher.eval()
for epoch in range(3):
    student.train()
    running = 0.0
    for xb, yb in loader:
        with torch.no_grad():
            teacher_logits = teacher(xb)
        student_logits = student(xb)
        loss = distillation_loss(student_logits, teacher_logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
    print(f'student epoch {epoch + 1}: distillation loss {running / len(loader):.4f}')

student.eval()
with torch.no_grad():
    acc = (student(X).argmax(dim=1) == y).float().mean().item()
print(f'student accuracy: {acc:.3f}')
