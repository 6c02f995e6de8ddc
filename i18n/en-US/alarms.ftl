# Alarm texts and first actions, the same as bonder_core::AlarmCode::{text,action}_{en,zh}
# (a test of bonder-i18n keeps them equal). Key: alarm-<code>, alarm-<code>-action.

alarm-101 = Non-stick on pad: the ball bond did not stick
alarm-101-action = Check pad contamination and the ball US power; clean the capillary
alarm-102 = Non-stick on lead: the stitch bond did not stick
alarm-102-action = Check lead frame clamping and plating; check stitch force
alarm-103 = Short tail: the wire tail broke too short
alarm-103-action = Check wire clamp and tail length; re-thread if needed
alarm-104 = Wire broken or wire out
alarm-104-action = Re-thread the wire or change the spool, then reset
alarm-105 = EFO open: no spark, no free air ball
alarm-105-action = Check the EFO wand gap and the tail; clean the wand
alarm-201 = Heater temperature out of band
alarm-201-action = Wait for the heater to settle; check the heater block
alarm-202 = Forming gas flow low
alarm-202-action = Check the N2/H2 supply and flow meter
alarm-301 = PR failure: pattern not found
alarm-301-action = Check lighting and focus; re-teach the pattern
alarm-401 = Door open / safety
alarm-401-action = Close the door, then reset
alarm-901 = Bond stream silent
alarm-901-action = Check the controller's stream cable
alarm-902 = Data storage failing
alarm-902-action = Do not produce; call maintenance
alarm-904 = Clock jumped
alarm-904-action = Check the time source (NTP)
alarm-905 = Login locked: too many failed sign-ins
alarm-905-action = Wait for the lock to end; if it was not you, tell security
alarm-910 = Process drift
alarm-910-action = Open Process health: check the first-ranked cause
alarm-911 = Capillary end of life forecast
alarm-911-action = Plan a capillary change before the forecast
alarm-912 = Yield forecast below limit
alarm-912-action = Call the process engineer with the ranked causes
alarm-unknown = Unknown alarm
alarm-unknown-action = Call the process engineer
