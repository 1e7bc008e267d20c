"""Data subjects: identifiers, age, guardians, restriction and objection."""
