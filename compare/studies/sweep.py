PARAMS = {"learning_rate": None}
