"""A tiny experiment: fit y = 2x + 1 by gradient descent and record how it went.

Run it with ``gitxp run examples/hello.py with lr=0.1 steps=200``: every run becomes a
commit on refs/gitxp/runs/<id>, with this file, the config, the loss curve and the result.
"""

import random

import gitxp

# The defaults, with the `with` values over them; gitxp records the merged config.
config = gitxp.config({"lr": 0.05, "steps": 100, "seed": 0})
rng = random.Random(config["seed"])
data = [(x, 2 * x + 1 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(64))]

w, b = 0.0, 0.0
for step in range(config["steps"]):
    grad_w = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    grad_b = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - config["lr"] * grad_w, b - config["lr"] * grad_b
    loss = sum((w * x + b - y) ** 2 for x, y in data) / len(data)
    gitxp.log_scalar("loss", loss)
    if step % 20 == 0:
        print(f"step {step:4d}  loss {loss:.5f}")

print(f"fitted w={w:.3f} b={b:.3f}")
gitxp.set_result(round(loss, 6))
