"""Payment providers behind one small interface; the sandbox behaves like the real ones."""
