"""A gdb remote stub that knows about paging (``zeros run --gdb PORT``).

``packets`` (the remote serial protocol), ``target`` (the target description), ``control``
(breakpoints, watchpoints, continue and step), ``monitor`` (the views as ``monitor``
commands), ``stub`` (the packets gdb sends, answered)::

    stub = GdbStub(machine, pid)
    port = stub.listen("127.0.0.1", 1234)
    stub.serve(print)          # returns when gdb detaches, kills, or the program ends
"""

from .stub import GdbStub, parse_address

__all__ = ["GdbStub", "parse_address"]
