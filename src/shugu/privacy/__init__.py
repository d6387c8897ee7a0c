"""The privacy engine: ingest, detection, classification and grading, protection transforms.

Modules: `ingest` (streaming readers and writers), `detect` (validating detectors per label),
`labels` (the label vocabulary and its classification), `grading` (dataset grades from industry
catalogues), `hierarchy` (the space's shared generalisation hierarchies), `transforms` (`make_*`
steps), `profile` (protection profiles), `keys` (per-holder pseudonymisation keys), `scan` and
`protect` (the two jobs the CLI runs).
"""
