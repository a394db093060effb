"""Files and terminal: atomic writes, progress bars, saving and loading a model."""
