"""HTTP plumbing shared by every router: auth dependencies, problem+json, middleware, idempotency."""
