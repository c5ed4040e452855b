"""``python -m hashlib_core.data.check`` (what ``make data`` runs): CIFAR-10 found and verified,
or one line naming the file and the fix (exit 2) instead of a traceback."""
import sys

from .cifar import DatasetNotFoundError, ensure_cifar10


def main() -> int:
    try:
        print(ensure_cifar10())
    except (DatasetNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
