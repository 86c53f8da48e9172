"""FHIR R4 in and out: the mapping from FHIR resources to case fields (as data, `cdss/data/fhir_mapping.yaml`),
reading Bundles, NDJSON and Bulk Data export folders, the Questionnaire that cdss generates from its case
schema, and writing a case back as a Bundle (for `cdss synth --format fhir`).

Nothing here is imported by `cdss evaluate` on a case JSON file: FHIR (and its model library) loads only
when a command is given `--input fhir` or a FHIR subcommand.
"""
