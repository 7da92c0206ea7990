"""Where a question's time goes on a large index: cProfile of warm answer() calls, top functions.

    .venv/bin/python -m benchmarks.profile_question --index benchmarks/out/work-huge/index-100000 [-n 40]

Asks the synthetic questions of the first 100 letters (the latency mix of benchmarks/run.py) through the
shared Chatbot after one warm-up, and prints the functions with the most cumulative and own time, so that
anything that grows with the corpus in the per-question path shows with its share.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from pathlib import Path

from benchmarks.synthetic import generate, question_rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("-n", type=int, default=40, help="questions to profile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    from chatbot.config import load_settings
    from chatbot.service import get_chatbot

    rows = question_rows(generate(100, 20241))
    random.Random(20241 + 1).shuffle(rows)
    questions = [r["question"] for r in rows][: args.n]
    bot = get_chatbot(load_settings(index_dir=args.index))
    started = time.perf_counter()
    bot.answer(questions[0])
    sys.stdout.write(f"first answer (index open + model + directory): {time.perf_counter() - started:.2f} s\n")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for question in questions:
        bot.answer(question)
    profile.disable()
    sys.stdout.write(f"{len(questions)} answers: {(time.perf_counter() - started) / len(questions) * 1000:.1f} "
                     "ms each (under the profiler)\n")
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(args.top)
        sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
