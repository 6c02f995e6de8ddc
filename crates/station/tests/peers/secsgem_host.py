"""A fab host made of python secsgem 0.3.0 (PyPI), driven line by line by a Rust test.

Each line on stdin is one JSON command; each answer is one JSON line on stdout. The Rust
side (crates/station/tests/secs_gem.rs) decides what to send and asserts what came back,
so this file holds no expectations of its own.

Commands:
  {"cmd": "connect", "port": P, "timeout": S}     enable, wait until communicating
  {"cmd": "disconnect"}                            disable (TCP closed)
  {"cmd": "req", "s": S, "f": F, "data": ..., "w": B}
                                                   send a primary, answer = decoded reply
                                                   ("w": set the W bit secsgem leaves off)
  {"cmd": "events", "ceid": C, "n": N, "timeout": S}
                                                   wait for N S6F11 of CEID C (all CEIDs:
                                                   null); answer = them, in arrival order
  {"cmd": "alarms", "n": N, "timeout": S}          wait for N S5F1
  {"cmd": "drain"}                                 forget what was received
  {"cmd": "quit"}

Typed values in "data": {"$": "BOOLEAN"|"U1"|"U2"|"U4"|"F4"|"A"|"B", "v": value}.

Known secsgem gaps handled here, never in the equipment: it answers an S6F11 whose report
it did not define itself with S6F0, so S6F11 and S5F1 get our own callbacks; it does not
redo S1F13 after a TCP break unless told, so "connect" builds a fresh handler.
"""

import json
import logging
import sys
import threading
import time

import secsgem.common
import secsgem.gem
import secsgem.hsms
import secsgem.secs
from secsgem.secs import variables as v

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

TYPES = {
    "BOOLEAN": v.Boolean,
    "U1": v.U1,
    "U2": v.U2,
    "U4": v.U4,
    "F4": v.F4,
    "A": v.String,
    "B": v.Binary,
}


def typed(x):
    if isinstance(x, dict) and "$" in x:
        value = x["v"]
        if x["$"] in ("A", "B") and isinstance(value, str):
            # UTF-8 bytes: secsgem's String refuses characters outside Latin-1.
            value = value.encode("utf-8")
        return TYPES[x["$"]](value)
    if isinstance(x, dict):
        return {k: typed(val) for k, val in x.items()}
    if isinstance(x, list):
        return [typed(i) for i in x]
    return x


def plain(x):
    if isinstance(x, (bytes, bytearray)):
        return list(x)
    if isinstance(x, dict):
        return {str(k): plain(val) for k, val in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(i) for i in x]
    return x


class Host:
    def __init__(self):
        self.handler = None
        self.lock = threading.Condition()
        self.events = []
        self.alarms = []

    def connect(self, port, timeout):
        settings = secsgem.hsms.HsmsSettings(
            address="127.0.0.1",
            port=port,
            connect_mode=secsgem.hsms.HsmsConnectMode.ACTIVE,
            device_type=secsgem.common.DeviceType.HOST,
            session_id=0,
        )
        h = secsgem.gem.GemHostHandler(settings)
        h.register_stream_function(6, 11, self.on_s6f11)
        h.register_stream_function(5, 1, self.on_s5f1)
        h.events.disconnected += lambda d: h.on_connection_closed(None)
        self.handler = h
        h.enable()
        ok = h.waitfor_communicating(timeout)
        return {"communicating": bool(ok)}

    def disconnect(self):
        if self.handler is not None:
            self.handler.disable()
            self.handler = None
        return {"ok": True}

    def on_s6f11(self, handler, message):
        # Never block the dispatcher: decode, note, answer.
        f = handler.settings.streams_functions.decode(message)
        with self.lock:
            self.events.append(plain(f.get()))
            self.lock.notify_all()
        return handler.stream_function(6, 12)(0)

    def on_s5f1(self, handler, message):
        f = handler.settings.streams_functions.decode(message)
        with self.lock:
            self.alarms.append(plain(f.get()))
            self.lock.notify_all()
        return handler.stream_function(5, 2)(0)

    def req(self, s, f, data, w=False):
        h = self.handler
        fn = h.stream_function(s, f)
        msg = fn(typed(data)) if data is not None else fn()
        if w:
            # secsgem sends some primaries E5 marks "W" without the bit (S10F3): ask.
            dict.__setattr__(msg, "is_reply_required", True)
        reply = h.send_and_waitfor_response(msg)
        if reply is None:
            return {"reply": None}
        decoded = h.settings.streams_functions.decode(reply)
        return {
            "s": reply.header.stream,
            "f": reply.header.function,
            "reply": plain(decoded.get()) if decoded is not None else None,
        }

    def wait(self, store, match, n, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [e for e in store if match(e)]
                if len(got) >= n or time.monotonic() >= deadline:
                    return {"items": got}
                self.lock.wait(max(0.0, deadline - time.monotonic()))


def main():
    host = Host()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        c = json.loads(line)
        try:
            cmd = c["cmd"]
            if cmd == "connect":
                out = host.connect(c["port"], c.get("timeout", 10))
            elif cmd == "disconnect":
                out = host.disconnect()
            elif cmd == "req":
                out = host.req(c["s"], c["f"], c.get("data"), c.get("w", False))
            elif cmd == "events":
                ceid = c.get("ceid")
                out = host.wait(host.events, lambda e: ceid is None or e["CEID"] == ceid, c["n"], c.get("timeout", 10))
            elif cmd == "alarms":
                out = host.wait(host.alarms, lambda e: True, c["n"], c.get("timeout", 10))
            elif cmd == "drain":
                with host.lock:
                    host.events.clear()
                    host.alarms.clear()
                out = {"ok": True}
            elif cmd == "quit":
                host.disconnect()
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                out = {"error": f"unknown command {cmd}"}
        except Exception as e:  # the Rust side reports it with the command
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
