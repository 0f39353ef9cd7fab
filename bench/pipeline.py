#!/usr/bin/env python3
"""torchvision + PIL side of bench/pipeline.sh: the SimCLR two-view 224 px pipeline (decode,
RandomResizedCrop(0.08-1), flip, ColorJitter(0.4, 0.4, 0.4, 0.1) p=0.8, grayscale p=0.2,
GaussianBlur(23, 0.1-2) p=0.5, PILToTensor) collated by a DataLoader into uint8 batches, as
pretext does (normalization happens on the device in both). Prints one JSON line.

usage: pipeline.py FOLDER --workers N --batch B [--mode full|decode] [--epochs E]"""
import argparse
import json
import os
import time

import torch
from PIL import Image
from torchvision import transforms as T


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--mode", default="full", choices=["full", "decode"])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = sorted(os.path.join(args.folder, f) for f in os.listdir(args.folder) if f.endswith(".jpg"))

    augment = T.Compose([
        T.RandomResizedCrop(224, scale=(0.08, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(23, sigma=(0.1, 2.0))], p=0.5),
        T.PILToTensor(),
    ])

    class TwoViews(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            image = Image.open(files[i]).convert("RGB")
            if args.mode == "decode":
                return (torch.zeros(1),)
            return augment(image), augment(image)

    loader = torch.utils.data.DataLoader(TwoViews(), batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers, drop_last=False,
                                         persistent_workers=args.workers > 0)
    images = 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        for batch in loader:
            images += batch[0].shape[0]
    seconds = time.perf_counter() - start
    print(json.dumps({"side": "torchvision", "mode": args.mode, "workers": args.workers,
                      "images": images, "seconds": seconds, "images_per_s": images / seconds}))


if __name__ == "__main__":
    main()
