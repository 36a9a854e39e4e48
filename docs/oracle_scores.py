"""Every score of the oracle rules (``ramp_kit/oracles.py``) on a release's public test set,
as a Markdown table for ``docs/baselines.md``.

    .venv/bin/python docs/oracle_scores.py DATA_DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ramp_kit import problem  # noqa: E402
from ramp_kit.oracles import noiseless_oracles, noisy_oracles  # noqa: E402
from ramp_kit.scoring.base import score_together  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a release made by python -m ramp_kit.data")
    args = parser.parse_args()
    blends, truth = problem.get_test_data(path=str(args.data_dir))
    blends = np.asarray(blends, dtype=np.float32)
    truth = np.asarray(truth, dtype=np.float32)
    names = [score_type.name for score_type in problem.score_types]
    print(f"{len(blends)} public test blends of {args.data_dir}\n")
    print("| rule | " + " | ".join(names) + " |")
    print("| --- " * (len(names) + 1) + "|")
    rules = noiseless_oracles(truth) | noisy_oracles(truth, blends)
    for rule, images in rules.items():
        scores = score_together(problem.score_types, truth, images)
        cells = [
            f"{scores[score_type.name]:.{score_type.precision}f}"
            for score_type in problem.score_types
        ]
        print(f"| {rule} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
