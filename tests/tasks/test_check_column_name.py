"""test_check_column_name.py: what `swx-server -t` accepts, the server
starts with, for table columns.

A column name of 31 bytes is accepted by both. A column name of 32 bytes
(the table keeps at most 31) must be refused by `-t` with a message naming
tables[0].columns[0].name, like every other bad value, and not pass the
check only to make the server fail at start ("cannot create table").
"""

from task_helper import Server, check, log, run


def table(col):
    return [{"name": "t", "size": 4,
             "columns": [{"name": col, "type": "int"}]}]


def main():
    with Server("colok", tables=table("c" * 31),
                server={"worker_num": 1, "reactor_num": 1}) as srv:
        rc, out, err = srv.check_config()
        check(rc == 0 and " rows, 0 bytes" not in out, "31 bytes: %r %r" % (out,
                                                                   err))
        srv.start()
        srv.stop()
    with Server("collong", tables=table("c" * 32),
                server={"worker_num": 1, "reactor_num": 1}) as srv:
        rc, out, err = srv.check_config()
        log("  -t with a 32-byte column name: status %d, %r" % (rc, (out +
                                                                   err)))
        check(rc == 1 and "tables[0].columns[0].name" in err,
              "-t accepted a column name of 32 bytes (%r); the server then "
              "refuses to start with it" % out.strip())


if __name__ == "__main__":
    run(main)
