"""python secsgem 0.3.0's own GemEquipmentHandler, passive on the port given, for the
side-by-side S1F1/S1F2 figure of crates/gem/benches/roundtrips.rs. Prints "ready" once
listening; runs until stdin closes."""

import sys

import secsgem.common
import secsgem.gem
import secsgem.hsms

port = int(sys.argv[1])
settings = secsgem.hsms.HsmsSettings(
    address="127.0.0.1",
    port=port,
    connect_mode=secsgem.hsms.HsmsConnectMode.PASSIVE,
    device_type=secsgem.common.DeviceType.EQUIPMENT,
    session_id=0,
)
h = secsgem.gem.GemEquipmentHandler(settings)
h.enable()
print("ready", flush=True)
sys.stdin.read()
h.disable()
