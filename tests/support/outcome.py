"""How a test script ends: each problem as a FAIL line, one summary line, exit 1 if there
was any problem (meson reads the exit status; a person reads the lines)."""
import sys


def finish(problems, summary, most=None):
    """Prints the problems (at most `most` of them) and `summary; N problem(s)`, then exits."""
    for p in problems[:most]:
        print("FAIL", p)
    print(f"{summary}; {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)
