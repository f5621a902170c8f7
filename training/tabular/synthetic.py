"""Generated tables that look like real ones (text categories, missing values), for tests,
the README and anyone trying the kit without data of their own. No download.

    python -m training.tabular.synthetic penguins examples/penguins.csv
    python -m training.tabular.synthetic houses examples/houses.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

# species → island weights, bill length, bill depth, flipper length, body mass (mean, std)
_PENGUINS = {
    "Adelie": ({"Biscoe": 0.3, "Dream": 0.35, "Torgersen": 0.35},
               (38.8, 2.6), (18.3, 1.2), (190.0, 6.5), (3700.0, 450.0)),
    "Chinstrap": ({"Dream": 1.0}, (48.8, 3.3), (18.4, 1.1), (196.0, 7.1), (3730.0, 380.0)),
    "Gentoo": ({"Biscoe": 1.0}, (47.5, 3.1), (15.0, 1.0), (217.0, 6.5), (5080.0, 500.0)),
}


def penguins(rows: int = 330, seed: int = 0, missing: float = 0.04) -> pd.DataFrame:
    """Penguin-like measurements: island and sex are text, some cells are empty."""
    rng = np.random.default_rng(seed)
    species = rng.choice(list(_PENGUINS), size=rows, p=[0.44, 0.2, 0.36])
    records = []
    for name in species:
        islands, bill, depth, flipper, mass = _PENGUINS[str(name)]
        sex = "male" if rng.random() < 0.5 else "female"
        shift = 1.0 if sex == "male" else -1.0
        records.append({
            "island": rng.choice(list(islands), p=list(islands.values())),
            "bill_length_mm": round(rng.normal(bill[0] + shift, bill[1]), 1),
            "bill_depth_mm": round(rng.normal(depth[0] + 0.4 * shift, depth[1]), 1),
            "flipper_length_mm": float(round(rng.normal(flipper[0] + 2 * shift, flipper[1]))),
            "body_mass_g": float(round(rng.normal(mass[0] + 200 * shift, mass[1]), -1)),
            "sex": sex,
            "species": str(name),
        })
    frame = pd.DataFrame(records)
    for column in ("bill_length_mm", "flipper_length_mm", "body_mass_g", "sex"):
        frame.loc[rng.random(rows) < missing, column] = None
    return frame


def houses(rows: int = 400, seed: int = 0, missing: float = 0.05) -> pd.DataFrame:
    """House prices: a numeric target from numbers, text categories and missing cells."""
    rng = np.random.default_rng(seed)
    district = rng.choice(["centre", "harbour", "hills", "suburbs"], size=rows,
                          p=[0.2, 0.2, 0.25, 0.35])
    premium = {"centre": 1.5, "harbour": 1.3, "hills": 1.1, "suburbs": 0.9}
    area = rng.gamma(6.0, 15.0, rows).round(0) + 25
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 0.7, rows)), 1, 9)
    age = rng.integers(0, 90, rows).astype(float)
    garden = rng.choice(["yes", "no"], size=rows, p=[0.4, 0.6])
    price = (area * 2.4 * np.array([premium[d] for d in district]) + 12 * rooms
             - 0.6 * age + np.where(garden == "yes", 25, 0) + rng.normal(0, 18, rows))
    frame = pd.DataFrame({"district": district, "area_m2": area, "rooms": rooms,
                          "age_years": age, "garden": garden,
                          "price_k": price.round(1)})
    for column in ("age_years", "garden"):
        frame.loc[rng.random(rows) < missing, column] = None
    return frame


TABLES = {"penguins": penguins, "houses": houses}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in TABLES:
        print(f"usage: python -m training.tabular.synthetic {{{','.join(TABLES)}}} OUT.csv",
              file=sys.stderr)
        return 2
    path = Path(args[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    TABLES[args[0]]().to_csv(path, index=False)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
