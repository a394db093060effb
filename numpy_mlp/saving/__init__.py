"""Model files: saving and loading an MLP with its optimizer state (.npz), above model and training."""
