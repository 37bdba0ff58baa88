"""Privacy: hiding faces (and optionally people and on-screen text) on every frame, and measuring leaks."""
