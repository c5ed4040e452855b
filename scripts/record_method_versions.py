"""Record each method's version and code fingerprint in tests/fixtures/method_versions.json.

    python scripts/record_method_versions.py                      # only methods whose version was bumped
    python scripts/record_method_versions.py --unchanged "why"    # also re-record changed code whose
                                                                  # results stay the same (reason kept)

A method whose code changed but whose version did not is refused unless ``--unchanged`` says why
its results are the same (hashlib_core.methods.versions).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not another install

from hashlib_core.methods import METHODS  # noqa: E402
from hashlib_core.methods.versions import code_fingerprint  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "method_versions.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unchanged", metavar="REASON", help="code changed, results did not: why")
    args = parser.parse_args(argv)
    old = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
    new, refused = {}, []
    for name in sorted(METHODS):
        version, code = METHODS[name].version, code_fingerprint(name)
        prev = old.get(name)
        entry = {"version": version, "code": code}
        if prev and prev["code"] != code and prev["version"] == version:
            if not args.unchanged:
                refused.append(name)
                entry = prev
            else:
                entry["unchanged_because"] = args.unchanged
        elif prev and prev["code"] == code:
            entry = prev
        new[name] = entry
    FIXTURE.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    if refused:
        print(f"not recorded (code changed, same version): {refused}; bump Method.version or pass --unchanged REASON",
              file=sys.stderr)
        return 1
    print(f"recorded {len(new)} methods in {FIXTURE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
