"""Re-create every pretrained checkpoint in data/checkpoints/ by running each section's script.

    python scripts/train_checkpoints.py            # all of them (tens of minutes on a 2-core CPU)
    python scripts/train_checkpoints.py vae gan    # only the scripts whose name contains a word

Each script is deterministic (fixed seeds) and writes NAME.safetensors + NAME.safetensors.json.
"""
from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
# The digit classifier comes first: the GAN and family-table scripts evaluate with it.
ORDER = ["train_digit_classifier.py", "train_vae_checkpoints.py", "train_gan_checkpoints.py",
         "train_walkthrough_checkpoints.py", "train_beyond_checkpoints.py",
         "train_vector_field_checkpoints.py", "train_language_checkpoints.py"]


def main(argv: list[str]) -> int:
    scripts = [HERE / name for name in ORDER if (HERE / name).is_file()]
    if argv:
        scripts = [s for s in scripts if any(word in s.name for word in argv)]
    for script in scripts:
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True, cwd=HERE.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
