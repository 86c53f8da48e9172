"""One reader per FHIR resource type, each offering case values to the shared builder (cdss/fhir/building.py)."""
