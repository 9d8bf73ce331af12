"""Pure clinical and billing rules: no Qt, no SQL, no I/O."""
