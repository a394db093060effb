"""The ground floor: atomic file writes, progress bars, short reprs for error messages.

Nothing here imports another room of numpy_mlp; every room may import it.
"""
