"""An OPC UA client for the station's tests: python asyncua 2.1.0 (PyPI), driven by one
JSON command per line on stdin, one JSON answer per line on stdout. It only does what it
is told and reports what it saw; every expectation is in the Rust test.

Commands (all answers carry "ok": true/false and, on failure, "error" and "code"):
  {"op": "endpoints", "url": U}                      -> {"endpoints": [[policy, mode], ...]}
  {"op": "connect", "url": U, "dir": D, "user": B, "password": P, "locale": L,
   "policy": "Basic256Sha256"|"Aes256Sha256RsaPss", "mode": "SignAndEncrypt"|"Sign"}
                                                     -> {"cert": path of the client certificate}
  {"op": "read", "path": ["Bonder", "WiresBonded"]}  -> {"value": ..., "status": ...}
  {"op": "browse", "path": [...]}                    -> {"children": [browse names]}
  {"op": "call", "method": "Stop", "args": [...]}    -> {"result": ...}
  {"op": "subscribe", "paths": [[...], ...], "ms": 100, "events": true}
  {"op": "changes"}                                  -> {"changes": [[name, value, source_ts, recv_ts]], "events": [...]}
  {"op": "subscribe", ..., "sampling_ms": 0, "queue": 100, "count_only": true}
                                                     (load: only counted, see "stats")
  {"op": "stats"}                                    -> {"n": count since the last stats,
                                                         "lat_ms": [recv - source of LastBond.Seq]}
  {"op": "sessions", "n": N, + connect's fields}     -> opens N more sessions (kept)
  {"op": "close_sessions"}                           -> closes them
  {"op": "disconnect"} / {"op": "vanish"} (drops the socket without closing the session)
"""

import asyncio
import json
import sys
import time
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import (
    SecurityPolicyAes256Sha256RsaPss,
    SecurityPolicyBasic256Sha256,
)
from cryptography.x509.oid import ExtendedKeyUsageOID

NS_URI = "urn:bonder-hmi:opcua"
APP_URI = "urn:bonder-hmi:test:asyncua-client"


def jsonable(v):
    if isinstance(v, ua.LocalizedText):
        return {"text": v.Text, "locale": v.Locale}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


class Handler:
    def __init__(self):
        self.changes = []
        self.events = []
        self.names = {}
        self.count_only = False
        self.n = 0
        self.lat_ms = []
        self.seq_id = None

    def datachange_notification(self, node, val, data):
        dv = data.monitored_item.Value
        if self.count_only:
            self.n += 1
            if node.nodeid == self.seq_id and dv.SourceTimestamp:
                self.lat_ms.append((time.time() - dv.SourceTimestamp.timestamp()) * 1000.0)
            return
        ts = dv.SourceTimestamp.timestamp() if dv.SourceTimestamp else None
        self.changes.append(
            [self.names.get(node.nodeid.to_string(), str(node)), jsonable(val), ts, time.time()]
        )

    def event_notification(self, event):
        self.events.append(
            {
                "message": jsonable(event.Message),
                "severity": event.Severity,
                "source": event.SourceName,
            }
        )


async def open_client(c):
    """A signed-in client as `connect` describes it (its certificate made on first use)."""
    d = Path(c["dir"])
    d.mkdir(parents=True, exist_ok=True)
    key, cert = d / "client-key.pem", d / "client-cert.der"
    if not cert.exists():
        await setup_self_signed_certificate(
            key,
            cert,
            APP_URI,
            "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "asyncua-test-client"},
        )
    client = Client(c["url"], timeout=10)
    client.application_uri = APP_URI
    client.session_timeout = int(c.get("session_timeout_ms", 30000))
    policy = {
        "Basic256Sha256": SecurityPolicyBasic256Sha256,
        "Aes256Sha256RsaPss": SecurityPolicyAes256Sha256RsaPss,
    }[c.get("policy", "Basic256Sha256")]
    mode = getattr(ua.MessageSecurityMode, c.get("mode", "SignAndEncrypt"))
    await client.set_security(policy, str(cert), str(key), mode=mode)
    if c.get("user") is not None:
        client.set_user(c["user"])
        client.set_password(c["password"])
    if c.get("locale"):
        client.set_locale([c["locale"]])
    await client.connect()
    return client, cert


class Peer:
    def __init__(self):
        self.extra = []
        self.client = None
        self.ns = None
        self.machine = None
        self.handler = Handler()
        self.sub = None

    async def node(self, path):
        station = await self.station()
        return await station.get_child([f"{self.ns}:{p}" for p in path])

    async def station(self):
        if self.machine is None:
            machines = await self.client.nodes.objects.get_child([f"{self.ns}:Machines"])
            kids = await machines.get_children()
            self.machine = kids[0]
        return self.machine

    async def run(self, c):
        op = c["op"]
        if op == "endpoints":
            client = Client(c["url"], timeout=5)
            eps = await client.connect_and_get_server_endpoints()
            return {
                "endpoints": [
                    [e.SecurityPolicyUri.split("#")[-1], e.SecurityMode.name] for e in eps
                ]
            }
        if op == "connect":
            client, cert = await open_client(c)
            self.client = client
            self.ns = await client.get_namespace_index(NS_URI)
            self.machine = None
            return {"cert": str(cert)}
        if op == "sessions":
            for _ in range(c["n"]):
                client, _ = await open_client(c)
                self.extra.append(client)
            return {"open": len(self.extra)}
        if op == "close_sessions":
            for client in self.extra:
                await client.disconnect()
            self.extra = []
            return {}
        if op == "stats":
            out = {"n": self.handler.n, "lat_ms": self.handler.lat_ms}
            self.handler.n, self.handler.lat_ms = 0, []
            return out
        if op == "read":
            n = await self.node(c["path"])
            dv = await n.read_data_value(raise_on_bad_status=False)
            return {"value": jsonable(dv.Value.Value), "status": dv.StatusCode.name}
        if op == "browse":
            n = await self.node(c["path"]) if c["path"] else await self.station()
            kids = await n.get_children()
            return {"children": sorted([(await k.read_browse_name()).Name for k in kids])}
        if op == "call":
            bonder = await self.node(["Bonder"])
            args = [ua.Variant(a, ua.VariantType.String) for a in c.get("args", [])]
            r = await bonder.call_method(f"{self.ns}:{c['method']}", *args)
            return {"result": jsonable(r)}
        if op == "subscribe":
            self.sub = await self.client.create_subscription(c.get("ms", 100), self.handler)
            nodes = []
            for p in c.get("paths", []):
                n = await self.node(p)
                self.handler.names[n.nodeid.to_string()] = ".".join(p)
                nodes.append(n)
            self.handler.count_only = bool(c.get("count_only"))
            if ["Bonder", "LastBond", "Seq"] in c.get("paths", []):
                self.handler.seq_id = (await self.node(["Bonder", "LastBond", "Seq"])).nodeid
            if nodes:
                await self.sub.subscribe_data_change(
                    nodes,
                    sampling_interval=c.get("sampling_ms", c.get("ms", 100)),
                    queuesize=c.get("queue", 0),
                )
            if c.get("events"):
                await self.sub.subscribe_events(await self.station())
            return {"items": len(nodes)}
        if op == "changes":
            out = {"changes": self.handler.changes, "events": self.handler.events}
            self.handler.changes, self.handler.events = [], []
            return out
        if op == "sleep":
            await asyncio.sleep(c["s"])
            return {}
        if op == "disconnect":
            await self.client.disconnect()
            self.client = None
            return {}
        if op == "vanish":
            # Drop the TCP connection without CloseSession: the server must cope.
            self.client.uaclient.protocol.transport.abort()
            self.client = None
            return {}
        raise ValueError(f"unknown op {op}")


async def main():
    peer = Peer()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        c = json.loads(line)
        try:
            r = await asyncio.wait_for(peer.run(c), timeout=c.get("timeout", 20))
            r["ok"] = True
        except Exception as e:  # report, the Rust side decides
            code = getattr(e, "code", None)
            name = type(e).__name__
            r = {"ok": False, "error": f"{name}: {e}", "code": name if code is None else name}
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
