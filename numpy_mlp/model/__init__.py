"""The network and its math: activations, initializers, parameters, targets, the MLP."""
