"""Child process of run_benchmarks.py: cold start of the GUI on a clinic, then filter keystrokes.

    python gui_cold_start.py DB_PATH USERNAME T0 RUNS

T0 is the parent's `time.monotonic()` just before it started this process (CLOCK_MONOTONIC is
one clock for every process on the machine), so "cold start" covers interpreter start, imports,
unlock (key slot + open), the main window shown and the registry rows loaded into the table —
what a user waits for after the sign-in dialog is accepted (the dialog itself is skipped: the
password comes from COCM_PASSWORD). The OS file cache is warm (the parent just read the file).

Then, with all rows in the table: one more character typed in the registry search, i.e. the
pane's keystroke handler after its debounce (model filter change + row counts) plus the event
processing that lays out and paints the filtered view. Prints one JSON line; next to the wall
times, CPU times (the process's at rows painted, the GUI thread's per keystroke) show how much
of a figure is other load on the machine. A keystroke that leaves the same rows shown (one more
letter of a name already found) repaints only the search box; the median over the keystrokes
that changed the rows is reported apart.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    path, username, t0, runs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    from PySide6.QtWidgets import QApplication

    from cocm_desktop.gui.app import AppController, create_app
    from cocm_desktop.store.database import Database

    app = create_app([sys.argv[0]])
    t_app = time.monotonic()
    db = Database.open(path, username, os.environ["COCM_PASSWORD"])
    t_open = time.monotonic()
    controller = AppController(app)
    controller.open_main(db, demo=False)
    window = controller.window
    assert window is not None
    QApplication.processEvents()
    t_shown = time.monotonic()
    out: dict[str, object] = {}

    paints = PaintCounter(window.registry.table.viewport())

    def loaded() -> None:
        t_loaded = time.monotonic()
        pane = window.registry
        settle(paints, expect_paint=True)  # first paint of the filled table
        t_painted = time.monotonic()
        cpu_painted = time.process_time()  # this process's CPU (all threads) since it started
        out.update(
            interpreter_and_imports=t_app - t0,
            unlock=t_open - t_app,
            window_shown=t_shown - t0,
            rows_loaded=t_loaded - t0,
            rows_painted=t_painted - t0,
            rows_painted_cpu=cpu_painted,
            rows=pane.model.total(),
        )
        out["filter"] = filter_keystrokes(pane, runs)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        window.shutdown()
        app.quit()

    window.registry.loaded.connect(loaded)
    app.exec()
    db.close()
    print(json.dumps(out))


class PaintCounter:
    """Counts the paint events a widget receives (here the registry table's viewport)."""

    def __init__(self, widget) -> None:  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class Filter(QObject):
            def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = Filter()
        widget.installEventFilter(self._filter)


def settle(paints: PaintCounter, *, expect_paint: bool) -> None:
    """Process events until the table shows the change. A model change lays the view out on a
    zero-delay timer, and that layout's repaint arrives on the next pass of the event loop: one
    processEvents() would time the previous keystroke's paint instead of this one's."""
    from PySide6.QtWidgets import QApplication

    before = paints.count
    QApplication.processEvents()
    for _ in range(10):
        if not expect_paint or paints.count != before:
            break
        QApplication.processEvents()


def filter_keystrokes(pane, runs: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Type a patient's family name one character at a time; time each keystroke after the first."""
    paints = PaintCounter(pane.table.viewport())

    names = sorted({r.patient_name.split(",")[0] for r in pane.model.rows})
    word = names[len(names) // 2].lower()[:5]
    times: list[float] = []
    cpu: list[float] = []
    relaid: list[float] = []  # the keystrokes that changed the rows shown (view laid out again)
    shown: list[int] = []
    layouts = [0]
    pane.model.layoutChanged.connect(lambda: layouts.__setitem__(0, layouts[0] + 1))
    for _ in range(runs):
        pane.search.blockSignals(True)
        pane.search.setText("")
        pane.search.blockSignals(False)
        pane._apply_text()
        settle(paints, expect_paint=True)
        for k in range(1, len(word) + 1):
            pane.search.blockSignals(True)  # the debounce timer is skipped: we call its handler
            pane.search.setText(word[:k])
            pane.search.blockSignals(False)
            t, c, n = time.perf_counter(), time.thread_time(), layouts[0]
            pane._apply_text()
            settle(paints, expect_paint=layouts[0] != n)
            if k > 1:
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.thread_time() - c) * 1000)
                if layouts[0] != n:
                    relaid.append(times[-1])
                shown.append(pane.model.rowCount())
    return {
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "median_cpu_ms": statistics.median(cpu),
        "median_ms_rows_changed": statistics.median(relaid) if relaid else None,
        "keystrokes": len(times),
        "keystrokes_rows_changed": len(relaid),
        "word_len": len(word),
        "shown_after_2_chars": shown[0] if shown else None,
    }


if __name__ == "__main__":
    main()
