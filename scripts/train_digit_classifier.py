"""Train the digit classifier whose features score generated digits (05_gan.ipynb).

    python scripts/train_digit_classifier.py [--dataset digits] [--seed 0] [--epochs 60]

Writes data/checkpoints/classifier_<dataset>.safetensors (+ .json manifest) with
course_lib.checkpoints; re-running with the same arguments gives the same weights
(every random key is seeded). Under a minute on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import sys
import time

import jax

from course_lib import checkpoints, data
from course_lib.evaluation.classifier import (
    CLASSIFIER_CONFIGS,
    accuracy,
    build_classifier,
    classifier_path,
    train_classifier,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(CLASSIFIER_CONFIGS), default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args(argv)

    train, test = data.load_images(args.dataset, "train"), data.load_images(args.dataset, "test")
    x_train = data.to_unit_interval(train.x, train.num_levels)
    x_test = data.to_unit_interval(test.x, test.num_levels)
    model = build_classifier(args.dataset, args.seed)
    start = time.perf_counter()
    history = train_classifier(model, x_train, train.y, key=jax.random.key(args.seed), num_epochs=args.epochs)
    seconds = time.perf_counter() - start
    metrics = {"train_accuracy": round(accuracy(model, x_train, train.y), 4),
               "test_accuracy": round(accuracy(model, x_test, test.y), 4),
               "final_loss": round(float(history["loss"][-1]), 4), "epochs": args.epochs, "seed": args.seed,
               "command": f"python scripts/train_digit_classifier.py --dataset {args.dataset} --seed {args.seed} "
                          f"--epochs {args.epochs}"}
    path = classifier_path(args.dataset)
    checkpoints.save_checkpoint(path, model, config=CLASSIFIER_CONFIGS[args.dataset], metadata=metrics)
    print(f"wrote {path.name} in {seconds:.1f} s: {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
