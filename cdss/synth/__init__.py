"""Synthetic cases for load tests, benchmarks and rule-coverage hunts: `cdss synth --n N --seed S`.

Each case is built from one or two clinical scenarios (osteoarthritis, osteonecrosis, GTPS, ITBS,
sciatica, spinal stenosis, rheumatoid arthritis, axial SpA, nonspecific pain, the red flags, children),
drawn with weights roughly like a primary-care population, so that a stream reaches every pathway but
looks like a clinic rather than a test matrix. Records are partial, as real ones are: work-ups are done
or not, fields are often absent (unknown), and earlier treatment trials have failed, are still running or
worked.

Numeric fields sometimes take a value exactly at or next to a threshold the rules test (`NEAR_MISS`,
read off the rule files and kept in `tables` as data, in one place), because the boundaries are where rule
bugs hide.

The package: `tables` (the data: thresholds, weights, ladders), `draws` (the `Draw` helper a scenario
writes a case with), `scenarios/` (one module per pathway, and the background any record may hold) and
`generate` (seeds, case order, the JSONL stream).
"""
