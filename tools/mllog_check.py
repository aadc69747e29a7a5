#!/usr/bin/env python3
"""Checks an `lvit train --mllog` file with the MLCommons compliance checker (pip package
mlperf-logging): its parser, then the common HPC rules (hpc_<version>/common.yaml, the rules
file the checker starts from), with warnings counted as failures.

The checker's own command line (python -m mlperf_logging.compliance_checker --usage hpc) goes on
from common.yaml to the division's rules, which accept only the HPC benchmarks (deepcam,
cosmoflow, oc20, openfold) and then open a rules file named after the benchmark, which does not
exist for lvit_forecast: that step is run here too and must fail on submission_benchmark alone.
docs/mllog.md says why.

usage: mllog_check.py FILE [--ruleset X.Y.Z]   (default: the newest hpc_* rules in the package)
exit 0 when the common rules pass and the division rules object to nothing but the benchmark.
"""
import argparse
import logging
import os
import re
import sys

from mlperf_logging.compliance_checker import mlp_compliance
from mlperf_logging.compliance_checker import mlp_parser


def newest_hpc_ruleset(pkg_dir):
    found = [d[len("hpc_"):] for d in os.listdir(pkg_dir) if re.fullmatch(r"hpc_\d+\.\d+\.\d+", d)]
    return max(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def messages(checker):
    return list(checker.warnings.values()) + list(checker.overwritable.values()) + list(checker.not_overwritable)


def run_rules(path, ruleset, lines, rules_file, pkg_dir):
    checker = mlp_compliance.make_checker("hpc", ruleset, False, True)  # werror: warnings fail too
    checker.configured_checks(lines, os.path.join(pkg_dir, f"hpc_{ruleset}", rules_file))
    mlp_compliance.enqueued_configs.clear()  # what the rules queued next; only this file is run here
    return messages(checker)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--ruleset", default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    pkg_dir = os.path.dirname(os.path.abspath(mlp_compliance.__file__))
    ruleset = a.ruleset or newest_hpc_ruleset(pkg_dir)
    lines, errors = mlp_parser.parse_file(a.file, ruleset=ruleset)
    ok = True
    if errors or not lines:
        ok = False
        print(f"parser (ruleset {ruleset}): {len(errors)} lines failed to parse, {len(lines)} parsed")
        for line, err in errors[:5]:
            print(f"  {err}: {line}")
    common = run_rules(a.file, ruleset, lines, "common.yaml", pkg_dir)
    if common:
        ok = False
        print(f"hpc_{ruleset}/common.yaml: FAILED")
        for m in common:
            print("  " + m.replace("\n", "\n  "))
    else:
        print(f"hpc_{ruleset}/common.yaml: passed ({len(lines)} lines)")
    division = next((l.value["value"] for l in lines if l.key == "submission_division"), None)
    if division:
        extra = run_rules(a.file, ruleset, lines, f"{division}_common.yaml", pkg_dir)
        other = [m for m in extra if "submission_benchmark" not in m]
        if other:
            ok = False
        print(f"hpc_{ruleset}/{division}_common.yaml: "
              + ("only submission_benchmark refused (lvit is not one of the HPC benchmarks)" if extra and not other
                 else "passed" if not extra else "FAILED"))
        for m in other:
            print("  " + m.replace("\n", "\n  "))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
