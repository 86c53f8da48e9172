"""Synthetic cases for load tests, benchmarks and rule-coverage hunts: `cdss synth --n N --seed S`.

Each case is built from one or two clinical scenarios (osteoarthritis, osteonecrosis, GTPS, ITBS,
sciatica, spinal stenosis, referred back pain, rheumatoid arthritis, axial SpA, polymyalgia, gout and
CPPD, nonspecific pain; and the red flags: joint and prosthetic joint infection, fractures after a fall
and with none, the Ottawa knee rule, bone malignancy, giant cell arteritis, the spinal flags, children
with a slipped epiphysis or a septic hip), drawn with weights roughly like a primary-care population, so
that a stream reaches every pathway but looks like a clinic rather than a test matrix. Each red-flag
scenario also draws its near misses (a sprain with a negative Ottawa rule, transient synovitis, a normal
femur X-ray), and the background gives any adult the comorbidities that decide NSAID safety. Records are partial, as real ones are: work-ups are done
or not, fields are often absent (unknown), and earlier treatment trials have failed, are still running or
worked.

Numeric fields sometimes take a value exactly at or next to a threshold the rules test (`NEAR_MISS`,
read off the rule files and kept in `tables` as data, in one place), because the boundaries are where rule
bugs hide.

The package: `tables` (the data: thresholds, weights, ladders), `draws` (the `Draw` helper a scenario
writes a case with), `scenarios/` (one module per pathway, and the background any record may hold) and
`generate` (seeds, case order, the JSONL stream).
"""
