# The seed document's JAX LeNet-5 training code, verbatim (section 3.2). It does not run: the
# first thing Python hits is a SyntaxError (`import jax.numpy.linalg as jnp.linalg`), and every
# line after it has its own mistake. examples/README.md lists them with the rule that teaches
# each; examples/train_lenet5.py is the corrected, runnable version.
import jax
import jax.numpy as jnp
import jax.nn as jax_nn
import jax.numpy.linalg as jnp.linalg

class LeNet5(jax.nn.Sequential):
    def __init__(self, num_classes):
        layers = [
            jax_nn.Conv2D(1, 6, kernel_shape=(5, 5), activation=jnp.sigmoid),
            jax_nn.MaxPool2D(pool_shape=(2, 2)),
            jax_nn.Conv2D(6, 16, kernel_shape=(5, 5), activation=jnp.sigmoid),
            jax_nn.MaxPool2D(pool_shape=(2, 2)),
            jax_nn.Dense(16 * 4 * 4, 120, activation=jnp.sigmoid),
            jax_nn.Dense(120, 84, activation=jnp.sigmoid),
            jax_nn.Dense(84, num_classes, activation=None)
        ]
        super().__init__(*layers)

    def forward(self, x):
        return self(x)

# 示例
model = LeNet5(num_classes=10)
optimizer = optim.AdamW(model.parameters(), learning_rate=0.001)
criterion = jnp.nn.CrossEntropyLoss()

# 假设有一个训练数据集和测试数据集
train_loader = ...
test_loader = ...

# 训练模型
for epoch in range(10):
    for images, labels in train_loader:
        optimizer.zero_grad()
        outputs = model(images)
        loss = criterion(outputs, labels)
        grad = jax.grad(loss)(model.params)
        optimizer.update(model.params, grad)

    # 测试模型
    with jax.disable_jit():
        correct = 0
        total = 0
        for images, labels in test_loader:
            outputs = model(images)
            _, predicted = jnp.argmax(outputs, axis=1)
            total += labels.size
            correct += (predicted == labels).sum()

        print(f'Epoch [{epoch + 1}/{10}], Test Accuracy: {100 * correct / total}%')
