"""Reproduce Table 1 and Figure 1 of 'Tiny Moons': logistic regression vs a 16-unit tanh MLP."""

import json
import os
import random
import time

from models import MLP, LogisticRegression, accuracy
from moons import make_moons, standardize, train_test_split
from plot import loss_curve_png

SEED = 0


def main():
    random.seed(SEED)
    os.makedirs("results", exist_ok=True)
    start = time.time()
    points, labels = make_moons(n_points=600, noise=0.2, seed=SEED)
    train_x, train_y, test_x, test_y = train_test_split(points, labels, test_fraction=0.2)
    train_x, test_x = standardize(train_x, test_x)
    print(f"dataset: {len(train_x)} train / {len(test_x)} test points")

    logreg = LogisticRegression().fit(train_x, train_y, learning_rate=0.1, epochs=200, seed=SEED)
    lr_acc = accuracy(logreg, test_x, test_y)
    print(f"logistic regression test accuracy: {lr_acc:.4f}")

    mlp = MLP(hidden=16, seed=SEED)
    losses = mlp.fit(train_x, train_y, learning_rate=0.1, epochs=100, seed=SEED)
    mlp_acc = accuracy(mlp, test_x, test_y)
    print(f"MLP test accuracy: {mlp_acc:.4f}")

    metrics = {
        "logistic_regression_test_accuracy": round(lr_acc, 4),
        "mlp_test_accuracy": round(mlp_acc, 4),
        "improvement_points": round(100 * (mlp_acc - lr_acc), 2),
        "seconds": round(time.time() - start, 2),
    }
    with open("results/metrics.json", "w") as f:
        json.dump(metrics, f, indent=2)
    with open("results/loss_curve.csv", "w") as f:
        f.write("epoch,loss\n")
        f.writelines(f"{i + 1},{loss:.6f}\n" for i, loss in enumerate(losses))
    loss_curve_png(losses, "results/loss_curve.png")  # Figure 1
    with open("results/table.md", "w") as f:
        f.write("| model | test accuracy |\n|---|---|\n")
        f.write(f"| logistic regression | {lr_acc:.3f} |\n| MLP (16 tanh units) | {mlp_acc:.3f} |\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
