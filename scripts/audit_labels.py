"""Audit data/labeled/labels.csv: duplicate codes, labels outside the taxonomy, an index or family carrying two
labels, missing provenance; per-class counts beside the report's 表 3. Exit 1 on any error.

Usage: python scripts/audit_labels.py [LABELS] [--taxonomy FILE]   (the same check as `fundclass labels audit`)
"""
import sys

from classifier.cli import cli

if __name__ == "__main__":
    sys.exit(cli(["labels", "audit", *sys.argv[1:]]))
