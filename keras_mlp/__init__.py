"""The tutorial's network in Keras 3 (TensorFlow backend), and conversion to and from numpy_mlp."""
