## Guided recipe changeover (station page and messages).

nav-changeover = Changeover
co-title-none = No changeover open
co-title = Changeover { $id }: { $from } → { $to }
co-work-order = Work order { $wo }
co-elapsed = { $elapsed } min of { $target } min · plan { $plan } min
co-step-time = { $actual } / { $standard } min
co-steps = Steps
co-start-title = Start a changeover to a released recipe
co-no-released = No released recipe version in the library
co-start = Start
co-next = Done, next step
co-abandon = Abandon (back to the previous recipe)
co-busy = Working…
co-what-changes = What changes
co-no-diff = Nothing but the recipe version changes
co-from = From
co-to = To

co-step-select = 1 Select recipe
co-step-setup = 2 Stop and set up
co-step-materials = 3 Materials
co-step-kit = 4 Kit change
co-step-download = 5 Recipe download
co-step-settle = 6 Heater and gas settle
co-step-pr_teach = 7 PR teach / verify
co-step-first_article = 8 First article
co-step-sign_off = 9 Sign-off

co-help-select = Check what changes, then confirm the target recipe.
co-help-setup = Take the last strip out. The machine stops and enters setup.
co-strip-out = Last strip is out
co-help-materials = Scan the wire spool, the capillary and the lead frame magazine.
co-scan-placeholder = Scan or type a label, then Enter
co-scan-wire = Wire spool
co-scan-capillary = Capillary
co-scan-lead_frame = Lead frame
co-scan-missing = not scanned
co-help-kit = Do each mechanical step and tick it.
co-kit-capillary = Change the capillary
co-kit-clamp = Change the wire clamp and window clamp
co-kit-heater_block = Change the heater block
co-kit-magazine = Set the magazine width
co-kit-minutes = { $minutes } min
co-help-download = Writes the recipe block, applies it and compares the CRC read back.
co-download = Download and verify
co-help-settle = Waits until the heater (and forming gas for copper) stay in band.
co-settle = Wait for settling
co-heater-now = Heater { $now } °C (target { $target } ± { $band })
co-gas-now = Forming gas { $now } L/min (target { $target })
co-help-pr_teach = Check that pattern recognition finds the pads of the new device.
co-pr-confirm = Pads found, confirm
co-help-first_article = Bond one unit, then enter pull and shear results (gf, separated by spaces).
co-bond-unit = Bond one unit
co-fa-bonds = First article: { $bonds } bonds, { $rejects } rejected
co-pulls = Pull results (at least { $n }, minimum { $min } gf)
co-shears = Shear results (at least { $n }, minimum { $min } gf)
co-fa-enter = Check results
co-help-sign_off = A technician or an engineer signs off; the machine goes back to production.
co-sign-off = Sign off and start production
co-done = Changeover signed off in { $minutes } min.
co-abandoned = Changeover abandoned; the machine runs the previous recipe again.

co-scan-format = “{ $label }” is not a { $expected } label ({ $format })
co-scan-wire-material = Wrong wire: { $scanned } on a { $required } recipe. Load a { $required } spool.
co-scan-wire-diameter = Wrong wire diameter: { $scanned } µm, the recipe needs { $required } µm.
co-scan-wrong-capillary = Wrong capillary: { $scanned }, the recipe needs { $required }.
co-scan-device = Wrong lead frame: for { $scanned }, the recipe is for { $required }.
co-fa-too-few = Enter at least { $needed } pull and { $needed_shear } shear results ({ $pulls } and { $shears } given).
co-fa-nan = Every result must be a positive number.
co-fa-pull = Lowest pull { $min } gf is below the minimum { $required } gf: not released to production.
co-fa-shear = Lowest shear { $min } gf is below the minimum { $required } gf: not released to production.
co-err-already-open = Changeover { $id } is already open.
co-err-not-open = No changeover is open.
co-err-wrong-step = The wizard is at step { $at }, not { $expected }.
co-err-not-released = { $recipe } is not a released version.
co-err-store = The station's store failed: { $detail }
co-err-scan-missing = Scan the { $material } first.
co-err-kit-missing = Tick every kit step first ({ $item }).
co-err-not-downloaded = Download and verify the recipe first.
co-err-no-results = Enter the first-article results first.
co-err-strip = Confirm that the last strip is out first.
co-err-controller = The controller refused or did not answer: { $detail }
co-err-crc = Download stopped: the CRC read back ({ $actual }) differs from the block sent ({ $expected }). Retry, or abandon.
co-err-download = Download stopped: { $detail }
co-err-not-settled = Not settled after { $secs } s: heater { $heater } °C (target { $heater_target } ± { $heater_band }), forming gas { $gas } L/min (target { $gas_target }).
co-err-no-first-article = The machine bonded no first article within { $secs } s.
co-err-role = Sign-off needs a technician or an engineer; the role { $role } may not sign off.
co-err-rollback = Rollback to the previous recipe failed: { $detail }

## Recipe fields outside the controller block (diffs).
param-name = Recipe name
param-device = Device
param-capillary = Capillary part number
param-limits-ball_um-min = Ball diameter, lower limit
param-limits-ball_um-max = Ball diameter, upper limit
param-limits-placement_um = Placement limit
param-limits-pull_min_gf = Minimum wire pull
param-limits-shear_min_gf = Minimum ball shear
param-envelope-learn_bonds = Envelope learning bonds
param-envelope-k_sigma = Envelope width (σ)
param-capillary_life_touchdowns = Capillary life (touchdowns)

## Changeover report.
co-report-title = Last { $n } changeovers: slowest steps first
co-report-none = No completed changeover yet
co-report-row = median { $median } · p90 { $p90 } · standard { $standard } min
co-report-step = Step
co-report-count = Changeovers
co-report-median = Median (min)
co-report-p90 = p90 (min)
co-report-standard = Standard (min)

## PR step with a camera.
co-pr-no-template = Teach the pad template on the camera page first.
co-pr-no-frame = No camera picture yet: check the camera.
co-pr-no-pads = The vision finds no pad with the taught template: teach it again on the camera page.
