"""test_check_tables.py: `swx-server -t` with tables, task workers and
processes in the config.

- it prints one line per table with its rows and the bytes of shared
  memory it takes, then the total for tables and counters; a table with
  more rows takes more, and the total is the tables plus a fixed part;
- the new settings are validated like every other: task_ipc_mode 2, a
  string column without a size, an int column with one, a duplicate table
  or column name, a process of an unknown plugin, task_max_size out of
  range, all fail with the documented message and status 1.
"""

import json
import re

from task_helper import Server, TABLES, check, h, run, taskprobe

LINE = re.compile(r'swx-server: table "([^"]+)": (\d+) rows, (\d+) bytes of '
                  r'shared memory')
TOTAL = re.compile(r"swx-server: shared memory for tables and counters: "
                   r"(\d+) bytes")


def check_t(tables):
    with Server("checkt", tables=tables,
                server={"task_worker_num": 2}) as srv:
        rc, out, err = srv.check_config()
        check(rc == 0, "-t failed: %r %r" % (out, err))
        rows = {m.group(1): (int(m.group(2)), int(m.group(3)))
                for m in LINE.finditer(out)}
        m = TOTAL.search(out)
        check(m is not None, "no total line: %r" % out)
        return rows, int(m.group(1))


def shared_memory():
    rows, total = check_t(TABLES)
    check(sorted(rows) == ["counters", "small"], "tables: %r" % rows)
    check(rows["counters"][0] == 1024 and rows["small"][0] == 8,
          "rows: %r" % rows)
    # Every row holds at least its key and its columns.
    check(rows["counters"][1] >= 1024 * (64 + 8 + 8 + 16), "counters size")
    fixed = total - sum(b for _, b in rows.values())
    check(fixed > 0, "the counters' part")
    bigger = json.loads(json.dumps(TABLES))
    bigger[0]["size"] = 4096
    rows2, total2 = check_t(bigger)
    check(rows2["counters"][1] > rows["counters"][1], "4096 rows take more")
    check(total2 - sum(b for _, b in rows2.values()) == fixed,
          "the fixed part changed")
    with Server("checkt0", server={}) as srv:
        rc, out, _ = srv.check_config()
    m = TOTAL.search(out)
    check(rc == 0 and m is not None and int(m.group(1)) == fixed,
          "no tables: %r" % out)


def bad(name, want, server=None, tables=None, processes=None):
    with Server("bad", server=server or {}, tables=tables,
                processes=processes) as srv:
        rc, out, err = srv.check_config()
        check(rc == 1, "%s: -t exited %d" % (name, rc))
        check(want in err, "%s: expected %r in %r" % (name, want, err))


def errors():
    col = {"name": "n", "type": "int"}
    bad("ipc 2", "server.task_ipc_mode: expected 1 or 3, found 2",
        server={"task_ipc_mode": 2})
    bad("max size", "server.task_max_size: expected an integer from 1024 to "
        "268435456, found 100", server={"task_max_size": 100})
    bad("string size", "tables[0].columns[0].size: required key is missing",
        tables=[{"name": "t", "size": 4,
                 "columns": [{"name": "s", "type": "string"}]}])
    bad("int size", "tables[0].columns[0].size: only string columns have a "
        "size", tables=[{"name": "t", "size": 4,
                         "columns": [dict(col, size=8)]}])
    bad("dup table", 'tables[1].name: expected a name not used by tables[0], '
        'found "t"', tables=[{"name": "t", "size": 4, "columns": [col]}] * 2)
    bad("dup column", 'tables[0].columns[1].name: expected a name not used '
        'by columns[0], found "n"',
        tables=[{"name": "t", "size": 4, "columns": [col, col]}])
    bad("column type", "tables[0].columns[0].type: expected one of \"int\", "
        "\"float\", \"string\"", tables=[{"name": "t", "size": 4, "columns": [
            {"name": "n", "type": "double"}]}])
    bad("rows", "tables[0].size: expected an integer from 1 to 1073741824, "
        "found 0", tables=[{"name": "t", "size": 0, "columns": [col]}])
    bad("process plugin", "processes[0].plugin: expected the name of a "
        "declared plugin, found \"nope\"",
        processes=[{"name": "p", "plugin": "nope"}])
    bad("process count", "processes[0].count: expected an integer from 1 to "
        "256, found 0", processes=[{"name": "p", "plugin": "taskprobe",
                                    "count": 0}])


def main():
    assert taskprobe()
    shared_memory()
    errors()
    h.log("ok")


if __name__ == "__main__":
    run(main)
