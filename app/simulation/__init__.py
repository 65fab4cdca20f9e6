"""A district simulated over many days against the real services (``pguard simulate``)."""
