"""The helper process of `sqlml.compiler.parallel`: ``python -m sqlml.compiler.helper``.

Reads pickled messages on stdin: first ``("init", (compiler folder, Templates))``, then
``("render", items)`` or ``("parse", items)``, answering each batch with the list of its
outcomes on stdout. Messages are read by a thread of their own, so the compiler's writes never
wait for this process to finish a batch. Exits at the end of its input, or at once if it
imported another sqlml than the compiler's.
"""

from __future__ import annotations

import pickle
import queue
import sys
import threading
from typing import Any, BinaryIO


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer every batch read from ``requests`` on ``answers``, until the end of input."""
    import gc

    from sqlml.compiler.parallel import Templates, _package, parse

    gc.set_threshold(50_000, 20, 10)  # as the compiler does (see fewer_collections)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                inbox.put(pickle.load(requests))
        except Exception:  # end of input, or the compiler went away
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    templates: Templates | None = None
    while (message := inbox.get()) is not None:
        kind, payload = message
        if kind == "init":
            package, templates = payload
            if package != _package():  # another sqlml than the compiler's: leave it the work
                return
            continue
        if kind == "render":
            assert templates is not None
            outcomes = [templates.render(item) for item in payload]
        else:
            outcomes = [parse(item) for item in payload]
        pickle.dump(outcomes, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by accident can garble the answers
    serve(sys.stdin.buffer, answers)
