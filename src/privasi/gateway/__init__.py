"""The LLM privacy gateway: an OpenAI-compatible proxy that pseudonymises before the provider."""
