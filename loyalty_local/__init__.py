"""The local stack: template.yaml served over HTTP against an embedded in-memory AWS (moto)."""
