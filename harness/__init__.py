"""What the template's tests and its benchmark share: the template's own facts, baking it,
a Docker engine and its compose stacks, an HTTP client, and load generators."""
