"""What ships to Lambda: the build of every function and layer (the artefacts `sam build` makes, without
Docker and without `sam`), and the Lambda-like harness that loads them (the packaging test, the bench).

- `ship.artefact`: the steps each per-directory Makefile runs (SAM's `BuildMethod: makefile`);
- `ship.build`: `make build` without `sam`: every function and layer of template.yaml, as sam lays them out;
- `ship.harness`: a python3.12 that sees only a function's artefact, the layers and the runtime's boto3.
"""
