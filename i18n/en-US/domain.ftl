# Domain names: machine states, bond kinds, defects, curve channels, recipe parameters,
# recipe states, roles, validation reasons and units.

state-idle = Idle
state-running = Running
state-paused = Paused
state-alarm = Alarm
state-setup = Setup
state-estop = Emergency stop
state-unknown = No state

bond-kind-ball = Ball bond
bond-kind-stitch = Stitch bond

defect-nsop = Non-stick on pad
defect-nsol = Non-stick on lead
defect-short_tail = Short tail
defect-ball_size = Ball size
defect-placement = Placement
defect-curve = Curve out of band

channel-us_current = Ultrasonic current
channel-force = Force
channel-z_height = Z height
channel-impedance = Impedance

param-slot = Recipe slot
param-wire-material = Wire material
param-wire-diameter_um = Wire diameter
param-heater_temp_c = Heater temperature
param-efo-current_ma = EFO current
param-efo-time_us = EFO time
param-efo-fab_target_um = Free air ball target
param-ball-us_power_pct = Ball ultrasonic power
param-ball-force_gf = Ball force
param-ball-time_ms = Ball time
param-stitch-us_power_pct = Stitch ultrasonic power
param-stitch-force_gf = Stitch force
param-stitch-time_ms = Stitch time
param-loop_height_um = Loop height
param-wires_per_unit = Wires per unit
param-forming_gas_l_min = Forming gas flow

recipe-state-draft = Draft
recipe-state-released = Released
recipe-state-retired = Retired

role-operator = Operator
role-technician = Technician
role-engineer = Engineer
role-supervisor = Supervisor
role-admin = Administrator

violation-empty = must not be empty
violation-unknown-doc-version = is not a known document version
violation-min-not-below-max = minimum must be below maximum
violation-not-positive = must be greater than zero
violation-needs-forming-gas = copper wire needs forming gas
violation-fab-not-larger-than-wire = the free air ball must be larger than the wire
violation-unknown-material-code = is not a known wire material code

unit-micrometres = µm
unit-gram-force = gf
unit-millis = ms
unit-micros = µs
unit-milliamps = mA
unit-percent = %
unit-celsius = °C
unit-litres-per-min = L/min
unit-ohms = Ω

## Process health (issue 18): warnings, their signals and causes
health-drift = Process drift: { $feature } { $direction }; likeliest cause { $cause } ({ $weight } %)
health-capillary = Capillary end of life forecast: its bonds leave the window in { $eta } wires, before its counted life; likeliest cause { $cause } ({ $weight } %)
health-yield_forecast = Yield forecast below { $limit } % in { $eta } wires; likeliest cause { $cause } ({ $weight } %)
health-cleared = Process health: { $what } cleared
health-dir-up = rising
health-dir-down = falling
health-kind-drift = process drift
health-kind-capillary = capillary forecast
health-kind-yield_forecast = yield forecast
health-feature-ball_us_energy_mj = ball US energy
health-feature-ball_deform_um = ball deformation
health-feature-ball_impedance_drop_pct = ball impedance drop
health-feature-stitch_deform_um = stitch deformation
health-feature-stitch_impedance_drop_pct = stitch impedance drop
health-feature-heater_offset_c = heater reading
health-feature-nsop_share = non-stick share
health-feature-predicted_shear_gf = predicted shear
health-feature-predicted_pull_gf = predicted pull
health-feature-multivariate = pattern of the bond signals
health-feature-yield = yield
health-cause-ultrasonic_output = the ultrasonic output
health-cause-capillary_wear = capillary wear
health-cause-heater = the heater
health-cause-material_lot = the material lot
health-cause-contamination = contamination
health-cause-unknown = unknown
