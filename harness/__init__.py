"""What the template's tests and its benchmark share: the template's own facts, baking it,
a Docker engine and its compose stacks (with the sinks beside them, Pebble as a CA, or on
Swarm), the Kubernetes manifests as rendered, TLS, an HTTP client, and load generators."""
