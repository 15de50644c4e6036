"""The embedded stack: every role and its infrastructure as local processes (`tollway up`)."""
