"""Probabilistic micropayment tickets: encoding, hashing, signatures, sender and recipient."""
