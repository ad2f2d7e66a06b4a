"""What the boto3 conformance scripts share: named checks that report and go on, and the summary that sets the exit code."""
import sys
import traceback

failures = []
passed = 0


def check(name):
    """Runs the decorated function at once as the check `name`: prints ok or FAIL (with the error), and goes on."""
    def wrap(fn):
        global passed
        try:
            fn()
            passed += 1
            print(f'ok   {name}')
        except Exception as e:  # noqa: BLE001 - report every failure and continue
            failures.append(name)
            print(f'FAIL {name}: {e!r}')
            traceback.print_exc(limit=3)
        return fn
    return wrap


def finish():
    """Prints the tally and exits 1 if any check failed."""
    print(f'\n{passed} passed, {len(failures)} failed')
    if failures:
        print('failed: ' + '; '.join(failures))
    sys.exit(1 if failures else 0)
