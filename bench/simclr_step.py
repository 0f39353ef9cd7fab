#!/usr/bin/env python3
# Python PyTorch reference for bench/simclr_step_bench.cpp: the same SimCLR training step
# (uint8 views -> normalized float -> one forward over both views -> projector -> NT-Xent and
# the logged metrics -> backward -> SGD or LARS step) on the same model, written here in plain
# PyTorch as torchvision and lightly write it. Run it with pretext's Python environment (the
# torch 2.11 wheel whose LibTorch the C++ side links). Prints one JSON line.
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (ResNet-18/34)."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 as pretext's models/resnet.cpp builds it with stem "small": 3x3 stride-1 stem
    conv, no max-pool, every width (stem included) scaled by `width`, no fc."""

    def __init__(self, width, in_channels):
        super().__init__()

        def scaled(base):
            return max(1, round(base * width))

        channels = scaled(64)
        self.conv1 = conv3x3(in_channels, channels, 1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        layers = []
        for stage, base in enumerate((64, 128, 256, 512)):
            planes = scaled(base)
            blocks = []
            for b in range(2):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(BasicBlock(channels, planes, stride))
                channels = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.feature_dim = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class SimCLR(nn.Module):
    """Backbone + Linear-BN-ReLU-Linear projector; both views in one forward (BN sees 2B)."""

    def __init__(self, width, hidden, out_dim, temperature):
        super().__init__()
        self.backbone = ResNet18(width, in_channels=1)
        self.projector = nn.Sequential(
            nn.Linear(self.backbone.feature_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, out_dim))
        self.temperature = temperature

    def compute_loss(self, view0, view1):
        b = view0.shape[0]
        z = self.projector(self.backbone(torch.cat([view0, view1])))
        z0, z1 = z[:b], z[b:]
        loss, positive_acc = nt_xent(z0, z1, self.temperature)
        metrics = {"simclr/positive_acc": positive_acc}
        with torch.no_grad():
            metrics.update(embedding_stats(z0.detach()))
        return loss, metrics


def nt_xent(z0, z1, temperature):
    """NT-Xent over the [2B, 2B] similarity matrix with self-similarities masked out."""
    b = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1]).float(), dim=1)
    logits = torch.mm(z, z.t()).div_(temperature)
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    first_half = torch.arange(b, device=z.device)
    targets = torch.cat([first_half + b, first_half])
    loss = F.cross_entropy(logits, targets)
    positive_acc = logits.detach().argmax(1).eq(targets).float().mean()
    return loss, positive_acc


def embedding_stats(z):
    """Per-dimension std of the normalized embedding and the effective rank (RankMe)."""
    std = F.normalize(z.float(), dim=1).std(0).mean()
    singular = torch.linalg.svdvals(z.float())
    p = singular / (singular.sum() + 1e-12) + 1e-12
    return {"embedding/std": std, "embedding/rank": torch.exp(-(p * p.log()).sum())}


def to_normalized_float(images, mean, std):
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return images.float().div_(255.0).sub_(mean_t).div_(std_t)


class Lars:
    """LARS as pretext's train/optimizer.cpp (after solo-learn/lightly): 1-d parameters get
    neither weight decay nor the trust ratio."""

    def __init__(self, params, momentum, weight_decay, trust_coefficient):
        self.params = list(params)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.trust_coefficient = trust_coefficient
        self.bufs = [None] * len(self.params)

    @torch.no_grad()
    def step(self, lr):
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            excluded = p.dim() <= 1
            wd = 0.0 if excluded else self.weight_decay
            d = g.add(p, alpha=wd) if wd != 0.0 else g
            if not excluded:
                p_norm, g_norm = p.norm(), g.norm()
                ratio = p_norm.div(g_norm.add(p_norm, alpha=wd)).mul(self.trust_coefficient)
                both = p_norm.gt(0).logical_and(g_norm.gt(0))
                d = d.mul(torch.where(both, ratio, torch.ones_like(ratio)))
            if self.momentum != 0.0:
                if self.bufs[i] is None:
                    self.bufs[i] = d.clone()
                else:
                    self.bufs[i].mul_(self.momentum).add_(d)
                d = self.bufs[i]
            p.add_(d, alpha=-lr)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--out_dim", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--optimizer", choices=("sgd", "lars"), default="sgd")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight_decay", type=float, default=1e-6)
    parser.add_argument("--trust_coefficient", type=float, default=0.02)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0 = one per core")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels_last", type=int, choices=(0, 1), default=0,
                        help="conv weights and inputs in channels-last memory format")
    args = parser.parse_args()

    # Set the thread count explicitly, as the C++ side does.
    torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))
    torch.manual_seed(args.seed)

    model = SimCLR(args.width, args.hidden, args.out_dim, args.temperature)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    if args.optimizer == "sgd":
        # torch.optim.SGD's default per-tensor loop; 1-d parameters without weight decay, as
        # pretext's exclude_bias_and_norm.
        decay = [p for p in model.parameters() if p.dim() > 1]
        no_decay = [p for p in model.parameters() if p.dim() <= 1]
        optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": args.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=args.lr, momentum=args.momentum)

        def step(lr):
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.step()

        def zero_grad():
            optimizer.zero_grad(set_to_none=False)
    else:
        lars = Lars(model.parameters(), args.momentum, args.weight_decay, args.trust_coefficient)
        step, zero_grad = lars.step, lars.zero_grad

    host_views = [torch.randint(0, 256, (args.batch, 1, args.size, args.size), dtype=torch.uint8)
                  for _ in range(2)]
    mean, std = [0.2860], [0.3530]

    phases = {"data_ms": [], "forward_ms": [], "backward_ms": [], "optimizer_ms": []}
    totals = []
    last_loss = 0.0
    total_steps = args.warmup + args.steps
    for i in range(total_steps):
        t0 = time.perf_counter()
        views = [to_normalized_float(v, mean, std).contiguous(memory_format=memory_format)
                 for v in host_views]
        t1 = time.perf_counter()
        model.train()
        zero_grad()
        loss, _metrics = model.compute_loss(*views)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        step(args.lr)
        t4 = time.perf_counter()
        if i >= args.warmup:
            for name, a, b in (("data_ms", t0, t1), ("forward_ms", t1, t2),
                               ("backward_ms", t2, t3), ("optimizer_ms", t3, t4)):
                phases[name].append((b - a) * 1e3)
            totals.append((t4 - t0) * 1e3)
        if i + 1 == total_steps:
            last_loss = loss.item()

    result = {
        "impl": "python", "batch": args.batch, "width": args.width, "size": args.size,
        "hidden": args.hidden, "optimizer": args.optimizer,
        "channels_last": bool(args.channels_last), "threads": torch.get_num_threads(),
        "steps": args.steps, "warmup": args.warmup,
        "median_ms": round(statistics.median(totals), 2),
        "mean_ms": round(statistics.fmean(totals), 2), "min_ms": round(min(totals), 2),
    }
    for name, values in phases.items():
        result[name] = round(statistics.median(values), 2)
    result["last_loss"] = round(last_loss, 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
