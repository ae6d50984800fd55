"""Platform-neutral services: taxonomy, profiles, matching, needs, privacy."""
