# Reference values for tests/test_scheduler.cpp and tests/test_lbfgs.cpp, computed with
# PyTorch 1.13's torch.optim (float64). Run: python3 tests/golden/optim_reference.py
# and paste the printed C++ initializers into the tests.
import torch


def cxx(values):
    return "{" + ", ".join(repr(float(v)) for v in values) + "}"


def lrs(make_scheduler, epochs, metrics=None, lr=0.1, include_initial=False):
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [param]}, {"params": [torch.zeros(1, requires_grad=True)], "lr": lr / 4}],
                                lr=lr)
    scheduler = make_scheduler(optimizer)
    values = [[g["lr"] for g in optimizer.param_groups]] if include_initial else []
    for epoch in range(epochs):
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        values.append([g["lr"] for g in optimizer.param_groups])
    return values


def print_lrs(name, values):
    print(f"// {name}")
    print("group 0:", cxx([v[0] for v in values]))
    print("group 1:", cxx([v[1] for v in values]))


S = torch.optim.lr_scheduler
print_lrs("StepLR(step_size=3, gamma=0.5), 12 epochs", lrs(lambda o: S.StepLR(o, 3, 0.5), 12))
print_lrs("ExponentialLR(gamma=0.9), 12 epochs", lrs(lambda o: S.ExponentialLR(o, 0.9), 12))
print_lrs("LambdaLR(lambda e: 0.95 ** e / (1 + e % 3)), 8 epochs",
          lrs(lambda o: S.LambdaLR(o, lambda e: 0.95 ** e / (1 + e % 3)), 8))
print_lrs("MultiStepLR(milestones=[2, 5, 5], gamma=0.3), 8 epochs", lrs(lambda o: S.MultiStepLR(o, [2, 5, 5], 0.3), 8))
print_lrs("LinearLR(start_factor=0.25, end_factor=1.0, total_iters=4), 7 epochs (first: after construction)",
          lrs(lambda o: S.LinearLR(o, 0.25, 1.0, 4), 7, include_initial=True))
print_lrs("CosineAnnealingLR(T_max=10, eta_min=0.001), 35 epochs",
          lrs(lambda o: S.CosineAnnealingLR(o, 10, 0.001), 35))
plateau_metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
                   0.85, 0.85, 0.85, 0.85]
print("metrics:", cxx(plateau_metrics))
print_lrs("ReduceLROnPlateau(mode=min, factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.02])",
          lrs(lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.02]), 20,
              plateau_metrics))
print_lrs("ReduceLROnPlateau(mode=max, threshold_mode=abs, threshold=0.1, patience=1)",
          lrs(lambda o: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.1, patience=1), 20,
              [-m for m in plateau_metrics]))


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


for line_search in [None, "strong_wolfe"]:
    x = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([x], lr=1 if line_search else 0.1, max_iter=20, history_size=5,
                                  line_search_fn=line_search)

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    points, evals = [], []
    for step in range(5):
        optimizer.step(closure)
        points += x.tolist()
        evals.append(optimizer.state[x]["func_evals"])
    print(f"// LBFGS rosenbrock from (-1.5, 2), line_search={line_search}: x after each of 5 steps, func_evals")
    print(cxx(points))
    print(cxx(evals))


def lrs_and_momenta(make_optimizer, make_scheduler, steps):
    """Each group's lr and momentum (SGD's momentum or Adam's beta1): after construction, then after each step."""
    params = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    optimizer = make_optimizer(params)
    scheduler = make_scheduler(optimizer)

    def momentum(group):
        return group["betas"][0] if "betas" in group else group["momentum"]

    values = [[(g["lr"], momentum(g)) for g in optimizer.param_groups]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        values.append([(g["lr"], momentum(g)) for g in optimizer.param_groups])
    return values


def print_lrs_and_momenta(name, values):
    print(f"// {name}")
    for group in range(2):
        print(f"group {group} lr:", cxx([v[group][0] for v in values]))
        print(f"group {group} momentum:", cxx([v[group][1] for v in values]))


def two_group_sgd(params):
    return torch.optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.025}], lr=0.1, momentum=0.9)


def two_group_adam(params):
    return torch.optim.Adam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.025}], lr=0.1)


print_lrs_and_momenta("OneCycleLR(max_lr=[1.0, 0.5], total_steps=10), SGD momentum 0.9; construction, then 10 steps",
                      lrs_and_momenta(two_group_sgd, lambda o: S.OneCycleLR(o, [1.0, 0.5], total_steps=10), 10))
print_lrs_and_momenta("OneCycleLR(max_lr=0.3, epochs=3, steps_per_epoch=4, pct_start=0.25, anneal_strategy=linear, "
                      "three_phase=True, base_momentum=0.8, max_momentum=0.9, div_factor=10, final_div_factor=100), "
                      "Adam; construction, then 12 steps",
                      lrs_and_momenta(two_group_adam,
                                      lambda o: S.OneCycleLR(o, 0.3, epochs=3, steps_per_epoch=4, pct_start=0.25,
                                                             anneal_strategy="linear", three_phase=True,
                                                             base_momentum=0.8, max_momentum=0.9, div_factor=10,
                                                             final_div_factor=100), 12))


def sequential(optimizer, make_schedulers, milestones):
    return S.SequentialLR(optimizer, make_schedulers(optimizer), milestones)


print_lrs("SequentialLR([LinearLR(0.25, 1.0, 4), ExponentialLR(0.9)], milestones=[3]), 8 epochs "
          "(first: after construction)",
          lrs(lambda o: sequential(o, lambda o: [S.LinearLR(o, 0.25, 1.0, 4), S.ExponentialLR(o, 0.9)], [3]), 8,
              include_initial=True))
print_lrs("SequentialLR([ExponentialLR(0.5), LinearLR(0.5, 1.0, 2), CosineAnnealingLR(4, 0.001)], milestones=[2, 5]), "
          "10 epochs (first: after construction)",
          lrs(lambda o: sequential(o, lambda o: [S.ExponentialLR(o, 0.5), S.LinearLR(o, 0.5, 1.0, 2),
                                                 S.CosineAnnealingLR(o, 4, 0.001)], [2, 5]), 10,
              include_initial=True))

for line_search in [None, "strong_wolfe"]:
    x = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([x], lr=1 if line_search else 0.1, max_iter=20, history_size=5,
                                  line_search_fn=line_search)

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    iterations = []
    for step in range(5):
        optimizer.step(closure)
        iterations.append(optimizer.state[x]["n_iter"])
    print(f"// LBFGS rosenbrock from (-1.5, 2), line_search={line_search}: n_iter after each of 5 steps")
    print(cxx(iterations))
